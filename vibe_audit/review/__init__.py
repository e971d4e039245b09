"""The pre-release review bot: diff selection, GitHub client, review orchestration."""
