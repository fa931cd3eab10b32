//! Generate the man pages and shell completions from the clap definitions (used by
//! `scripts/package`; nothing here is written by hand):
//!
//!     cargo run --example gen_docs -- OUTDIR
//!
//! writes OUTDIR/man/ec2-vip.1 and ec2-vip-SUBCOMMAND.1, and OUTDIR/completions/
//! ec2-vip.bash, _ec2-vip (zsh) and ec2-vip.fish.

use clap_complete::Shell;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/docs".into()));
    let (man, completions) = (out.join("man"), out.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let cmd = ec2_vip::cli::command();
    clap_mangen::generate_to(cmd.clone(), &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "ec2-vip", &completions)?;
    }
    println!("man pages in {}, completions in {}", man.display(), completions.display());
    Ok(())
}
