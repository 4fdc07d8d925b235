//! `alerts`: see the family's route module for what is covered.
