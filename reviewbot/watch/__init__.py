"""The mailing-list watcher: public-inbox epochs in, queued reviews out."""
