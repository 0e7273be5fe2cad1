"""Sentiment model: preprocessing, features, pipeline, dataset loading and training."""
