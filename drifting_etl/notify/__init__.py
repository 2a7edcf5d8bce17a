"""The e-mail to a project's team about a window: policy, digest, composition and sending."""
