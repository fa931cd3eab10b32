//! Credentials said out loud: a named profile that does not exist is an error (as the AWS
//! CLI says "The config profile (NAME) could not be found"), not a silent fall back to the
//! instance role; and, for `doctor`, where the default chain found its credentials
//! (environment, a profile, the instance role through IMDS, ...) and who AWS says the
//! caller is (STS GetCallerIdentity). No credential is ever formatted here.

use crate::deadline::Deadline;
use crate::error::{error_chain, Error};
use aws_config::profile::ProfileSet;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};
use std::time::Duration;

/// `AWS_PROFILE`, when set and not empty.
fn named_profile(env: &Env) -> Option<String> {
    env.get("AWS_PROFILE").ok().filter(|p| !p.is_empty())
}

/// Bad input when `AWS_PROFILE` names a profile that neither the config file nor the
/// credentials file defines (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/):
/// the SDK's chain would skip it and take the next source, the instance role.
pub async fn check_profile() -> Result<(), Error> {
    let env = Env::real();
    let Some(name) = named_profile(&env) else { return Ok(()) };
    let fix = "unset AWS_PROFILE to use the instance role";
    profile_exists(&Fs::real(), &env, &name, &format!("AWS_PROFILE={name}"), fix).await
}

/// Bad input when the profile `name` (a config section's `profile`, `what` in messages)
/// is defined in neither shared file.
pub async fn check_named_profile(name: &str, what: &str) -> Result<(), Error> {
    let fix = "define it there or remove the section's profile";
    profile_exists(&Fs::real(), &Env::real(), name, what, fix).await
}

async fn profile_exists(fs: &Fs, env: &Env, name: &str, what: &str, fix: &str) -> Result<(), Error> {
    let set: Result<ProfileSet, _> =
        aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None).await;
    match set {
        Ok(set) if set.get_profile(name).is_some() => Ok(()),
        Ok(_) => Err(Error::BadInput(format!(
            "{what}: no such profile in {} or {}; {fix}",
            env.get("AWS_CONFIG_FILE").unwrap_or_else(|_| "~/.aws/config".into()),
            env.get("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|_| "~/.aws/credentials".into()),
        ))),
        Err(e) => Err(Error::BadInput(format!("{what}: {}", error_chain(&e)))),
    }
}

/// The name of the provider that made `c` ("IMDSv2", "EnvironmentVariable", ...).
/// `Credentials` has no getter for it; its Debug form (secret redacted) names it first.
/// Only that name is taken from the text.
fn provider_name(c: &Credentials) -> Option<String> {
    let text = format!("{c:?}");
    let rest = text.split_once("provider_name: \"")?.1;
    Some(rest.split_once('"')?.0.to_string())
}

/// A person's words for where the credentials came from; `role` is the instance role's
/// name (IMDS), asked only when the credentials came from there.
fn source_words(provider: &str, profile: Option<&str>, role: Option<&str>) -> String {
    match provider {
        "EnvironmentVariable" => "environment (AWS_ACCESS_KEY_ID)".into(),
        "IMDSv2" => format!("instance role {} via IMDS", role.unwrap_or("(name not told)")),
        "WebIdentityToken" => "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)".into(),
        "EcsContainer" => "container credentials (AWS_CONTAINER_CREDENTIALS_*)".into(),
        "ProfileFile" => format!("profile {}", profile.unwrap_or("default")),
        other => match profile {
            Some(p) => format!("profile {p} ({other})"),
            None => other.to_string(),
        },
    }
}

/// Where the credentials of `config` come from, resolved now: e.g. "instance role NAME via
/// IMDS". The error is why none could be had, one line.
pub async fn source(
    config: &aws_config::SdkConfig,
    imds: &super::imds::Imds,
    d: &Deadline,
) -> Result<String, String> {
    let p = config.credentials_provider().ok_or("no credential provider")?;
    let creds = d
        .run("credentials", p.provide_credentials())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| error_chain(&e))?;
    let provider = provider_name(&creds).unwrap_or_default();
    let role = match provider.as_str() {
        "IMDSv2" => imds.role_name(d).await.ok(),
        _ => None,
    };
    Ok(source_words(&provider, named_profile(&Env::real()).as_deref(), role.as_deref()))
}

/// The caller's ARN (STS GetCallerIdentity), within a few seconds: a VPC without a route
/// to STS (no internet, no STS endpoint) must not hold doctor up.
pub async fn caller_arn(config: &aws_config::SdkConfig, d: &Deadline) -> Result<String, String> {
    let sts = aws_sdk_sts::Client::new(config);
    let bound = d.remaining().min(Duration::from_secs(5));
    match tokio::time::timeout(bound, sts.get_caller_identity().send()).await {
        Err(_) => Err(format!("STS GetCallerIdentity: no answer within {} s", bound.as_secs_f64())),
        Ok(Err(e)) => {
            use aws_sdk_sts::error::ProvideErrorMetadata;
            crate::logging::sdk_debug("GetCallerIdentity", &e);
            let why = match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                _ => error_chain(&e),
            };
            Err(format!("STS GetCallerIdentity: {why}"))
        }
        Ok(Ok(r)) => Ok(r.arn().unwrap_or("(no ARN in the answer)").to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_named_profile_must_exist() {
        let fs = Fs::from_slice(&[
            ("/home/u/.aws/config", "[profile ops]\nregion = us-east-1\n"),
            ("/home/u/.aws/credentials", "[keys]\naws_access_key_id = AKIDEXAMPLE\n"),
        ]);
        let env = Env::from_slice(&[("HOME", "/home/u")]);
        let exists = |p: &'static str| profile_exists(&fs, &env, p, "AWS_PROFILE", "fix");
        assert!(exists("ops").await.is_ok(), "in the config file");
        assert!(exists("keys").await.is_ok(), "in the credentials file");
        let e = exists("nosuch").await.unwrap_err();
        assert!(matches!(e, Error::BadInput(_)) && e.to_string().contains("AWS_PROFILE: no such profile"));
        assert!(named_profile(&Env::from_slice(&[("AWS_PROFILE", "")])).is_none(), "empty: not set");
    }

    #[test]
    fn the_source_is_named() {
        let c = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE", None, None, "IMDSv2");
        let name = provider_name(&c).unwrap();
        assert_eq!(name, "IMDSv2");
        assert_eq!(source_words(&name, None, Some("web")), "instance role web via IMDS");
        assert_eq!(source_words("EnvironmentVariable", None, None), "environment (AWS_ACCESS_KEY_ID)");
        assert_eq!(source_words("ProfileFile", Some("ops"), None), "profile ops");
        assert_eq!(source_words("ProfileFile", None, None), "profile default");
        assert_eq!(source_words("AssumeRoleProvider", Some("ops"), None), "profile ops (AssumeRoleProvider)");
    }
}
