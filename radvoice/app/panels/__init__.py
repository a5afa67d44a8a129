"""Side panels: findings, prior cases, push-to-talk."""
