//! Published ports: `docker run -p 8080:80 …` binds nothing on the host. Instead layerlab
//! listens on `127.0.0.1:8080` inside the learner's toolbox (so `curl localhost:8080` in the
//! console answers, as on a laptop) and joins each connection to port 80 of the container,
//! made inside the container's own network namespace; the page's link to the port goes the
//! same way, for that learner's session only (`http::console_api`).

use crate::engine::toolbox::Namespace;
use crate::engine::Client;
use std::collections::HashMap;
use std::sync::Arc;

/// Connections one published port carries at once; more are closed as they come.
const CONNECTIONS: usize = 32;

/// One published port being served.
pub(super) struct Forward {
    container: String,
    target: u16,
    reach: Arc<Namespace>,
    task: tokio::task::AbortHandle,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Forward {
    /// The container's namespace and port, to connect to.
    pub(super) fn reach(&self) -> (Arc<Namespace>, u16) {
        (self.reach.clone(), self.target)
    }

    pub(super) fn target(&self) -> (String, u16) {
        (self.container.clone(), self.target)
    }
}

/// The ports `serving` publishes, by port in the console: the container and its port (the
/// first container to publish a port has it).
pub(super) fn wanted(serving: Vec<crate::engine::toolbox::Serving>) -> HashMap<u16, (String, u16)> {
    let mut wanted = HashMap::new();
    for container in serving {
        for port in container.ports {
            wanted
                .entry(port.host)
                .or_insert((container.id.clone(), port.container));
        }
    }
    wanted
}

/// Serve `port` of the console (inside `toolbox`'s namespace) to port `target` of
/// `container`.
pub(super) async fn forward(
    client: &Client,
    toolbox: &Namespace,
    port: u16,
    container: &str,
    target: u16,
) -> Result<Forward, String> {
    let reach = Arc::new(client.namespace_of(container).await?);
    let listener = toolbox.listen(port).await?;
    let serving = reach.clone();
    let task = tokio::spawn(async move {
        let room = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
        while let Ok((mut theirs, _)) = listener.accept().await {
            let Ok(place) = room.clone().try_acquire_owned() else {
                continue;
            };
            let serving = serving.clone();
            tokio::spawn(async move {
                let _place = place;
                if let Ok(mut container) = serving.connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut theirs, &mut container).await;
                }
            });
        }
    })
    .abort_handle();
    Ok(Forward {
        container: container.to_string(),
        target,
        reach,
        task,
    })
}
