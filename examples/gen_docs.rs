//! Generate the man pages and shell completions from the clap definitions (used by
//! `scripts/package`; nothing here is written by hand):
//!
//!     cargo run --example gen_docs -- OUTDIR
//!
//! writes OUTDIR/man/ec2-vip.8 and ec2-vip-SUBCOMMAND.8 (section 8: the binary lives in
//! /usr/sbin), and OUTDIR/completions/ec2-vip.bash, _ec2-vip (zsh) and ec2-vip.fish. The
//! config file's page, ec2-vip.toml(5), is written by hand: man/ec2-vip.toml.5.

use clap_complete::Shell;
use clap_mangen::Man;
use std::path::{Path, PathBuf};

/// Section 8: system administration commands.
const SECTION: &str = "8";

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/docs".into()));
    let (man, completions) = (out.join("man"), out.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut cmd = ec2_vip::cli::command().disable_help_subcommand(true);
    cmd.build();
    pages(&cmd, &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "ec2-vip", &completions)?;
    }
    println!("man pages in {}, completions in {}", man.display(), completions.display());
    Ok(())
}

/// One page per command and subcommand, each naming the others in section 8, and each
/// ending with SEE ALSO: the main page, the config file's page and keepalived's.
fn pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, dir)?;
    }
    let source = format!("ec2-vip {}", env!("CARGO_PKG_VERSION"));
    let page = Man::new(cmd.clone()).section(SECTION).source(source).manual("System Administration");
    let mut text = Vec::new();
    page.render(&mut text)?;
    let main = if cmd.get_name() == "ec2-vip" { "" } else { "\\fBec2\\-vip\\fR(8), " };
    let see_also = format!(
        ".SH \"SEE ALSO\"\n{main}\\fBec2\\-vip.toml\\fR(5), \\fBkeepalived.conf\\fR(5), \\fBkeepalived\\fR(8)\n"
    );
    text.extend_from_slice(see_also.as_bytes());
    std::fs::write(dir.join(page.get_filename()), text)
}
