"""The pre-release pull-request review bot. Not built yet (issue 8)."""
