"""Course build tools: the notebook CI, the course site and the student edition."""
