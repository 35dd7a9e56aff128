"""samples.png: what the generator makes at each β (same seeds per column), image and target rows."""
from __future__ import annotations

import numpy as np


def _show_target(t: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, str | None]:
    if t.shape[-1] == 3:                         # unit normals -> RGB
        return np.clip((t + 1) / 2, 0, 1) * mask, None
    if t.shape[-1] == 4:                         # albedo (RGB) + shading: show the albedo
        return np.clip(t[..., :3], 0, 1), None
    return t[..., 0], "viridis"


def draw_samples(path, sampler, betas: dict, n: int = 6, seed0: int = 0, extra: dict | None = None) -> None:
    """Rows: for each named β, the images and the targets of seeds seed0..seed0+n-1.

    ``extra`` maps a row name to a list of ready samples (e.g. re-rendered real scans) to show too.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {name: [sampler(beta, seed0 + i) for i in range(n)] for name, beta in betas.items()}
    groups.update(extra or {})
    cols = max(len(g) for g in groups.values())
    fig, axes = plt.subplots(2 * len(groups), cols, figsize=(1.5 * cols, 3.0 * len(groups)), squeeze=False)
    for g, (name, samples) in enumerate(groups.items()):
        for col in range(cols):
            ax_i, ax_t = axes[2 * g, col], axes[2 * g + 1, col]
            for ax in (ax_i, ax_t):
                ax.set_xticks([]), ax.set_yticks([])
            if col >= len(samples):
                ax_i.axis("off"), ax_t.axis("off")
                continue
            s = samples[col]
            img = s["image"]
            ax_i.imshow(img[..., 0] if img.shape[-1] == 1 else np.clip(img, 0, 1), cmap="gray")
            shown, cmap = _show_target(s["target"], s["mask"])
            ax_t.imshow(shown, cmap=cmap)
        axes[2 * g, 0].set_ylabel(f"{name}\nimage", fontsize=8)
        axes[2 * g + 1, 0].set_ylabel("target", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
