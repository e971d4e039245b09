"""The eval suite comparing models on labeled code. Not built yet (issue 9)."""
