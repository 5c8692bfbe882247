//! Build script of the Lambda function packages (and of `hello-lambda`, their baseline in the bench): links
//! their binaries as position-dependent executables (`-no-pie`).
//!
//! A position-independent executable starts with the dynamic loader applying its relocations: some 68,000
//! pointers in the functions' 1.7 MB of `.data.rel.ro`, each page of it copied on write, about 400 page
//! faults and most of the time from `execve` to the first Runtime API poll. Linked at a fixed address, the
//! same pointers are written by the linker and the pages are read-only and shared. The code is still
//! compiled position-independent; only the final link changes.
//!
//! The trade: the executable's own image is not randomised (ASLR still places the shared libraries, the
//! stack, the heap and every mapping), as with Go binaries on Lambda. Set `ALERTWIRE_LAMBDA_PIE=1` when
//! building to keep the default position-independent link.

fn main() {
    println!("cargo::rerun-if-env-changed=ALERTWIRE_LAMBDA_PIE");
    if std::env::var_os("ALERTWIRE_LAMBDA_PIE").is_none() {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
