//! In-place editing commands: put, mkdir, rm, mv, ln, chmod, chown, touch,
//! setfattr, getfattr (in progress).

/// Arguments of `ufs put`.
#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs put`.
pub fn put(_a: PutArgs) -> i32 {
    eprintln!("ufs put: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs mkdir`.
#[derive(clap::Args, Debug)]
pub struct MkdirArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs mkdir`.
pub fn mkdir(_a: MkdirArgs) -> i32 {
    eprintln!("ufs mkdir: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs rm`.
pub fn rm(_a: RmArgs) -> i32 {
    eprintln!("ufs rm: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs mv`.
#[derive(clap::Args, Debug)]
pub struct MvArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs mv`.
pub fn mv(_a: MvArgs) -> i32 {
    eprintln!("ufs mv: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs ln`.
#[derive(clap::Args, Debug)]
pub struct LnArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs ln`.
pub fn ln(_a: LnArgs) -> i32 {
    eprintln!("ufs ln: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs chmod`.
#[derive(clap::Args, Debug)]
pub struct ChmodArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs chmod`.
pub fn chmod(_a: ChmodArgs) -> i32 {
    eprintln!("ufs chmod: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs chown`.
#[derive(clap::Args, Debug)]
pub struct ChownArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs chown`.
pub fn chown(_a: ChownArgs) -> i32 {
    eprintln!("ufs chown: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs touch`.
#[derive(clap::Args, Debug)]
pub struct TouchArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs touch`.
pub fn touch(_a: TouchArgs) -> i32 {
    eprintln!("ufs touch: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs setfattr`.
#[derive(clap::Args, Debug)]
pub struct SetfattrArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs setfattr`.
pub fn setfattr(_a: SetfattrArgs) -> i32 {
    eprintln!("ufs setfattr: not implemented yet");
    crate::EXIT_FAILURE
}

/// Arguments of `ufs getfattr`.
#[derive(clap::Args, Debug)]
pub struct GetfattrArgs {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs `ufs getfattr`.
pub fn getfattr(_a: GetfattrArgs) -> i32 {
    eprintln!("ufs getfattr: not implemented yet");
    crate::EXIT_FAILURE
}
