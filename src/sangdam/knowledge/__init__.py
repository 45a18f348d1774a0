"""Articles, Korean analyzer, search index, topic detection, bot answers."""
