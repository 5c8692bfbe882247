//! Reading an answer's body up to a limit: what is kept of an endpoint's answer, or of a token
//! endpoint's, however much it sends.

/// The first bytes of a body.
#[derive(Debug, Default)]
pub struct CappedBody {
    pub bytes: Vec<u8>,
    /// More was sent than `limit`; the rest was not read.
    pub truncated: bool,
}

impl CappedBody {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads `response`'s body up to `limit` bytes. A connection that breaks midway gives what came before,
/// and the error.
pub async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> (CappedBody, Option<reqwest::Error>) {
    let mut body = CappedBody::default();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.bytes.len());
                body.bytes
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    body.truncated = true;
                    return (body, None);
                }
            }
            Ok(None) => return (body, None),
            Err(e) => return (body, Some(e)),
        }
    }
}
