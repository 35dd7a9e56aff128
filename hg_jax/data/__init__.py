"""Real-data loaders in their published formats (numpy only, no jax)."""
import os


def data_root(*parts: str) -> str:
    """$HG_JAX_DATA/<parts> if HG_JAX_DATA is set, else <repo>/../shared/data/<parts>."""
    if os.environ.get("HG_JAX_DATA"):
        return os.path.join(os.environ["HG_JAX_DATA"], *parts)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.path.join(repo, "..", "shared", "data", *parts))
