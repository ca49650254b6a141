//! AArch64 vector math. Every function is compiled with `#[target_feature(enable = "neon")]`
//! (NEON is in the baseline of the usual AArch64 targets, but the run-time check,
//! `Isa::Neon.is_available()`, is what callers rely on, as on x86-64).

pub(crate) mod neon;
