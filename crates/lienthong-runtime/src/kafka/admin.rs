//! Topic creation and cluster metadata through the Kafka admin API. Only the Kafka protocol is
//! assumed: the same calls work against Apache Kafka and the embedded broker.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{KafkaConfig, TopicSettings};

/// What the cluster said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `id@host:port` of each broker.
    pub brokers: Vec<String>,
    /// Topic names with their partition counts.
    pub topics: Vec<(String, usize)>,
}

impl ClusterInfo {
    pub fn partitions_of(&self, topic: &str) -> Option<usize> {
        self.topics
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, n)| *n)
    }
}

/// What [`TopicAdmin::ensure_topics`] did for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach the Kafka cluster at {servers}: {source}")]
    Unreachable {
        servers: String,
        #[source]
        source: KafkaError,
    },
    #[error("creating topic {topic} failed: {code}")]
    CreateFailed {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error(
        "topic {topic} does not exist and topic creation is disabled (kafka.topics.create = false)"
    )]
    Missing { topic: String },
    #[error("Kafka admin request failed: {0}")]
    Request(#[source] KafkaError),
}

/// Creates and inspects topics.
pub struct TopicAdmin {
    client: Arc<AdminClient<DefaultClientContext>>,
    config: KafkaConfig,
    timeout: Duration,
}

impl std::fmt::Debug for TopicAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicAdmin").finish_non_exhaustive()
    }
}

impl TopicAdmin {
    pub fn new(config: &KafkaConfig) -> Result<Self, AdminError> {
        let client = config
            .client_config("admin")
            .create()
            .map_err(AdminError::Request)?;
        Ok(Self {
            client: Arc::new(client),
            config: config.clone(),
            timeout: Duration::from_millis(config.request_timeout_ms),
        })
    }

    /// Brokers and topics, or an error naming the bootstrap servers when none answers within
    /// the request timeout.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let metadata =
            tokio::task::spawn_blocking(move || client.inner().fetch_metadata(None, timeout))
                .await
                .unwrap_or(Err(KafkaError::Canceled))
                .map_err(|source| AdminError::Unreachable {
                    servers: self.config.bootstrap_servers.clone(),
                    source,
                })?;
        let brokers = metadata
            .brokers()
            .iter()
            .map(|b| format!("{}@{}:{}", b.id(), b.host(), b.port()))
            .collect();
        let topics = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect();
        Ok(ClusterInfo { brokers, topics })
    }

    /// The end offset (high watermark) of each partition of `topic`: how many records each
    /// holds, counted from offset 0.
    pub async fn end_offsets(
        &self,
        topic: &str,
        partitions: usize,
    ) -> Result<Vec<i64>, AdminError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            (0..partitions as i32)
                .map(|p| {
                    client
                        .inner()
                        .fetch_watermarks(&topic, p, timeout)
                        .map(|(_, high)| high)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
        .map_err(AdminError::Request)
    }

    /// Makes sure every topic in `names` exists, creating missing ones with the settings of
    /// `kafka.topics` (or failing with [`AdminError::Missing`] when creation is disabled).
    /// Idempotent: topics that exist are left as they are.
    pub async fn ensure_topics(
        &self,
        names: &[&str],
    ) -> Result<Vec<(String, TopicOutcome)>, AdminError> {
        let info = self.cluster_info().await?;
        let mut outcomes = Vec::with_capacity(names.len());
        let mut to_create = Vec::new();
        for name in names {
            if info.partitions_of(name).is_some() {
                outcomes.push((name.to_string(), TopicOutcome::AlreadyExists));
            } else if !self.config.topics.create {
                return Err(AdminError::Missing {
                    topic: name.to_string(),
                });
            } else {
                to_create.push((*name, self.config.topics.settings_for(name)));
            }
        }
        if to_create.is_empty() {
            return Ok(outcomes);
        }
        let new_topics: Vec<NewTopic<'_>> = to_create
            .iter()
            .map(|(name, s)| {
                s.config.iter().fold(
                    NewTopic::new(
                        name,
                        s.partitions,
                        TopicReplication::Fixed(s.replication_factor),
                    ),
                    |t, (k, v)| t.set(k, v),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = self
            .client
            .create_topics(&new_topics, &options)
            .await
            .map_err(AdminError::Request)?;
        for result in results {
            match result {
                Ok(topic) => outcomes.push((topic, TopicOutcome::Created)),
                // Another instance created it between our metadata read and the request.
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    outcomes.push((topic, TopicOutcome::AlreadyExists))
                }
                Err((topic, code)) => return Err(AdminError::CreateFailed { topic, code }),
            }
        }
        self.wait_until_visible(&to_create.iter().map(|(n, _)| *n).collect::<Vec<_>>())
            .await?;
        Ok(outcomes)
    }

    /// Makes sure `name` exists, creating it with exactly `settings` (for topics whose shape is
    /// not an operator's choice, such as single-partition compacted state topics).
    pub async fn ensure_topic_with(
        &self,
        name: &str,
        settings: &TopicSettings,
    ) -> Result<TopicOutcome, AdminError> {
        if self.cluster_info().await?.partitions_of(name).is_some() {
            return Ok(TopicOutcome::AlreadyExists);
        }
        let topic = settings.config.iter().fold(
            NewTopic::new(
                name,
                settings.partitions,
                TopicReplication::Fixed(settings.replication_factor),
            ),
            |t, (k, v)| t.set(k, v),
        );
        let options = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = self
            .client
            .create_topics([&topic], &options)
            .await
            .map_err(AdminError::Request)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(AdminError::CreateFailed { topic, code }),
            }
        }
        self.wait_until_visible(&[name]).await?;
        Ok(TopicOutcome::Created)
    }

    /// Topic creation is asynchronous on some brokers: wait until metadata shows the topics so
    /// that the first produce does not fail with an unknown topic.
    async fn wait_until_visible(&self, names: &[&str]) -> Result<(), AdminError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let info = self.cluster_info().await?;
            if names.iter().all(|n| info.partitions_of(n).is_some()) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let missing = names
                    .iter()
                    .find(|n| info.partitions_of(n).is_none())
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                return Err(AdminError::CreateFailed {
                    topic: missing,
                    code: RDKafkaErrorCode::RequestTimedOut,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
