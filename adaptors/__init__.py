"""Heavy third-party SDKs behind lazy accessors, so light commands (`status`, `diff`, `validate`) never import them."""
