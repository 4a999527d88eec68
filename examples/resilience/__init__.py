"""An answering service with a retry-and-fallback policy, and the fault tests that prove the policy."""
