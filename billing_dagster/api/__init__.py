"""The billing API's building blocks (issue: `billing serve`): API keys first."""
