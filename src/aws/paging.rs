//! EC2's pagination: a describe answers one page and a `NextToken` while more remain. A
//! large account (hundreds of route tables, Transit Gateway attachments or route tables)
//! must never be read as its first page, and EC2 may answer a page that holds nothing
//! but a token (it pages before it filters), so every describe here follows the tokens to
//! the end. Each page is one SDK call, bounded by the client's attempt and operation
//! timeouts; the caller bounds the whole read by the run's deadline.

use super::ec2::ec2_error;
use crate::error::Ec2Error;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::collections::HashSet;
use std::future::Future;

/// Every item of every page. `page` sends the request with the token of the previous
/// page (None first) and answers the page's items and its `NextToken`. A failed page is an
/// `Ec2Error` naming `operation`, `resources` and the page; a token EC2 already gave is
/// an error too (a loop, not "the rest is empty").
pub(crate) async fn every_page<T, E, F, Fut>(
    operation: &'static str,
    resources: &str,
    mut page: F,
) -> Result<Vec<T>, Ec2Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut out = Vec::new();
    let mut token = None;
    let mut seen = HashSet::new();
    for n in 1.. {
        let (items, next) = page(token.take()).await.map_err(|e| {
            let what = if n == 1 { resources.to_string() } else { format!("{resources} (page {n})") };
            ec2_error(operation, what, e)
        })?;
        out.extend(items);
        match next.filter(|t| !t.is_empty()) {
            None => break,
            Some(t) if !seen.insert(t.clone()) => {
                return Err(Ec2Error {
                    operation,
                    resources: resources.to_string(),
                    code: None,
                    message: Some(format!(
                        "EC2 answered the NextToken {t:?} twice (page {n}): paging stopped"
                    )),
                    request_id: None,
                })
            }
            Some(t) => token = Some(t),
        }
    }
    Ok(out)
}

/// The `page` closure of [`every_page`] for a describe request `req` (a fluent builder):
/// send it with the token, answer the page's `field` (its list of items) and `NextToken`.
macro_rules! pages {
    ($req:expr, $field:ident) => {
        |token| {
            let req = $req.clone().set_next_token(token);
            async move {
                let page = req.send().await?;
                Ok((page.$field.unwrap_or_default(), page.next_token))
            }
        }
    };
}
pub(crate) use pages;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use std::cell::RefCell;

    type Page = Result<(Vec<u32>, Option<String>), SdkError<DescribeRouteTablesError, HttpResponse>>;

    /// Answers `pages` in turn, recording the token each request carried.
    async fn read(pages: Vec<Page>) -> (Result<Vec<u32>, Ec2Error>, Vec<Option<String>>) {
        let sent = RefCell::new(Vec::new());
        let mut pages = pages.into_iter();
        let out = every_page("DescribeRouteTables", "vpc-1", |token| {
            sent.borrow_mut().push(token);
            let next = pages.next().expect("asked for a page after the last one");
            async move { next }
        })
        .await;
        (out, sent.into_inner())
    }

    #[allow(clippy::result_large_err)] // the SDK's error type, as a real page answers it
    fn page(items: &[u32], next: Option<&str>) -> Page {
        Ok((items.to_vec(), next.map(String::from)))
    }

    #[tokio::test]
    async fn follows_every_token_to_the_last_page() {
        let (out, sent) =
            read(vec![page(&[1, 2], Some("a")), page(&[3, 4], Some("b")), page(&[5], None)]).await;
        assert_eq!(out.unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(sent, [None, Some("a".into()), Some("b".into())]);
    }

    #[tokio::test]
    async fn an_empty_page_with_a_token_is_not_the_end() {
        let (out, sent) = read(vec![page(&[], Some("a")), page(&[], Some("b")), page(&[7], Some(""))]).await;
        assert_eq!(out.unwrap(), [7], "an empty token ends it");
        assert_eq!(sent.len(), 3);
    }

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_loop() {
        let (out, _) = read(vec![page(&[1], Some("a")), page(&[2], Some("a"))]).await;
        let e = out.unwrap_err();
        assert_eq!(e.operation, "DescribeRouteTables");
        assert!(e.to_string().contains("NextToken \"a\" twice (page 2)"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_page_names_its_number() {
        let (out, _) =
            read(vec![page(&[1], Some("a")), page(&[2], Some("b")), Err(SdkError::timeout_error("slow"))])
                .await;
        let e = out.unwrap_err();
        assert_eq!((e.operation, e.resources.as_str()), ("DescribeRouteTables", "vpc-1 (page 3)"));
    }
}
