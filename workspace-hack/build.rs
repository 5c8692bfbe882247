// A build script, so that cargo applies the build-dependencies of the workspace-hack too.
fn main() {}
