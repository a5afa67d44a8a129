"""Random patient parameters: habitus, breathing, age-related changes, scan settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class PatientParams:
    """Everything that makes one synthetic patient different from another (mm, HU, years)."""

    age: float
    half_width: float  # body half width (x) at the chest
    half_depth: float  # body half depth (y)
    fat_ant: float
    fat_lat: float
    fat_post: float
    muscle_ant: float
    muscle_lat: float
    muscle_post: float
    squareness: float  # super-ellipse exponent of the body outline
    outline_harmonics: tuple[float, ...]  # small shape wobble: amplitudes and phases
    lung_height: float  # apex to right dome
    breath: float  # 0 = expiration, 1 = deep inspiration
    dome_right: float  # z of the right hemidiaphragm dome
    dome_left_drop: float  # left dome lies this much lower
    heart_scale: float
    heart_rotation: float  # radians about z
    aorta_scale: float
    lung_hu: float  # mean parenchymal attenuation
    bone_marrow_hu: float
    liver_hu: float
    contrast: bool
    contrast_hu: float
    noise_std: float  # soft-tissue noise std after the noise filter
    rib_drop: float  # anterior rib ends lie this much lower than their heads
    rib_pitch: float
    vertebra_pitch: float
    table: bool

    @classmethod
    def sample(cls, rng: np.random.Generator) -> PatientParams:
        age = float(np.clip(rng.normal(55, 15), 18, 92))
        habitus = float(rng.normal(0, 1))  # thin ... obese
        size = float(np.clip(rng.normal(1.0, 0.07), 0.82, 1.2))
        breath = float(rng.beta(4, 1.6))
        fat = float(np.clip(18 + 10 * habitus, 4, 45))
        harm = tuple(float(v) for v in rng.normal(0, 0.018, 3)) + tuple(
            float(v) for v in rng.uniform(0, 2 * np.pi, 3)
        )
        return cls(
            age=age,
            half_width=float(165 * size * (1 + 0.05 * habitus)),
            half_depth=float(125 * size * (1 + 0.07 * habitus) * rng.uniform(0.93, 1.07)),
            fat_ant=fat * float(rng.uniform(0.6, 1.0)),
            fat_lat=fat * float(rng.uniform(0.6, 1.0)),
            fat_post=fat * float(rng.uniform(0.3, 0.5)),
            muscle_ant=float(rng.uniform(8, 15) * size),
            muscle_lat=float(rng.uniform(6, 12) * size),
            muscle_post=float(rng.uniform(34, 44) * size),
            squareness=float(rng.uniform(2.1, 2.7)),
            outline_harmonics=harm,
            lung_height=float(rng.uniform(195, 235) * size * (0.93 + 0.1 * breath)),
            breath=breath,
            dome_right=float(-72 + 25 * (0.6 - breath) + rng.normal(0, 6)),
            dome_left_drop=float(rng.uniform(8, 22)),
            heart_scale=float(np.clip(rng.normal(1.0, 0.05), 0.88, 1.1) * size**0.5),
            heart_rotation=float(rng.normal(0, 0.08)),
            aorta_scale=float(1.0 + 0.004 * (age - 50) + rng.normal(0, 0.05)),
            lung_hu=float(-865 + 45 * (0.7 - breath) + rng.normal(0, 12)),
            bone_marrow_hu=float(np.clip(290 - 2.2 * age + rng.normal(0, 25), 90, 300)),
            liver_hu=float(rng.normal(58, 7)),
            contrast=bool(rng.random() < 0.25),
            contrast_hu=float(rng.uniform(160, 320)),
            noise_std=float(rng.uniform(10, 18) * (1 + 0.25 * max(habitus, 0))),
            rib_drop=float(rng.uniform(95, 125) * size),
            rib_pitch=float(rng.uniform(21, 26) * size),
            vertebra_pitch=float(rng.uniform(23, 27) * size),
            table=bool(rng.random() < 0.85),
        )

    def to_dict(self) -> dict:
        return asdict(self)
