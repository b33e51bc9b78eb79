//! The catalog's shape on the `port` target: Port's blueprint API.
//!
//! | call | route |
//! |---|---|
//! | list | `GET /v1/blueprints` → `{ok, blueprints: [...]}` |
//! | create | `POST /v1/blueprints` (no catalog page is made, as Port's integration does) |
//! | replace | `PUT /v1/blueprints/{identifier}` with the whole document |
//! | delete | `DELETE /v1/blueprints/{identifier}` (a 404 counts as deleted) |
//!
//! Retries and tokens are the client's; a listing that fails or does not hold a
//! `blueprints` list fails the call (never read as "no blueprints").

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::catalog;
use crate::port::client::{Error, PortClient, decode};

#[derive(Deserialize)]
struct ListReply {
    blueprints: Vec<Value>,
}

impl PortClient {
    /// Every blueprint of the organization, Port's system blueprints included.
    pub(super) async fn blueprints(&self) -> catalog::Result<Vec<Value>> {
        let url = self.url(&["blueprints"], &[]);
        let reply = self
            .call(Method::GET, url.clone(), None)
            .await
            .map_err(|e| catalog::Error::ListFailed(Box::new(e)))?;
        decode::<ListReply>(&Method::GET, &url, &reply.body)
            .map(|r| r.blueprints)
            .map_err(|e| catalog::Error::ListFailed(Box::new(e)))
    }

    /// Creates (`None`) or replaces (`Some(identifier)`) a blueprint.
    pub(super) async fn write_blueprint(
        &self,
        document: &Value,
        replace: Option<&str>,
    ) -> catalog::Result<()> {
        let failed = |e: Error| catalog::Error::WriteFailed(Box::new(e));
        let body = serde_json::to_vec(document).map_err(|e| failed(Error::Encode(e)))?;
        let (method, url) = match replace {
            None => (Method::POST, self.url(&["blueprints"], &[])),
            Some(id) => (Method::PUT, self.url(&["blueprints", id], &[])),
        };
        self.call(method, url, Some(body)).await.map_err(failed)?;
        Ok(())
    }

    /// Deletes a blueprint; one Port no longer has counts as deleted.
    pub(super) async fn remove_blueprint(&self, identifier: &str) -> catalog::Result<()> {
        let url = self.url(&["blueprints", identifier], &[]);
        match self.call(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(e) => Err(catalog::Error::WriteFailed(Box::new(e))),
        }
    }
}
