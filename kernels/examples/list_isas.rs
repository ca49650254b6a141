//! Prints the ISAs this machine can run, one per line (used by scripts/test.sh).
fn main() {
    for isa in lanes_kernels::Isa::available() {
        println!("{isa}");
    }
}
