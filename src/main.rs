use ec2_vip::error::{EXIT_BAD_INPUT, EXIT_OK};
use std::process::ExitCode;

#[global_allocator]
static ALLOC: ec2_vip::arena::Arena = ec2_vip::arena::Arena::new();

fn main() -> ExitCode {
    let mut cli = ec2_vip::cli::parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    // The config's top-level defaults, before logging starts (they may say where to log).
    // A config that cannot be used gives none here: the command reports it (stderr, and
    // the command line's own log destinations) when it loads it.
    let defaults = ec2_vip::commands::config_defaults(&cli);
    let file_from_config = cli.global.log_file.is_none() && defaults.log_file.is_some();
    cli.global.apply(&defaults);
    let g = &cli.global;
    let verbosity = if g.quiet { -1 } else { g.verbose.min(2) as i8 };
    let context = ec2_vip::commands::describe(&cli);
    let format = match g.log_format.as_deref() {
        Some("json") => ec2_vip::logging::Format::Json,
        _ => ec2_vip::logging::Format::Text,
    };
    if let Err(e) = ec2_vip::logging::init(context, verbosity, g.log_file.as_deref(), g.syslog, format) {
        match file_from_config {
            true => eprintln!("ec2-vip: {}: log_file: {e}", g.config.display()),
            false => eprintln!("ec2-vip: {e}"),
        }
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            log::error!("cannot start the async runtime: {e}");
            return ExitCode::from(ec2_vip::error::EXIT_FAILED);
        }
    };
    let code = match rt.block_on(ec2_vip::commands::run(cli)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            if !e.to_string().is_empty() {
                log::error!("{e}");
            }
            e.exit_code()
        }
    };
    log::logger().flush();
    ExitCode::from(code)
}
