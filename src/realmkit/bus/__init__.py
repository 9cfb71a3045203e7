"""The message bus: typed publish/subscribe/request over NATS, JetStream and KV."""
