"""Database: models, the async engine manager and migrations."""
