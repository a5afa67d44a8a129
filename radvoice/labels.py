"""The 18 CT-RATE abnormality labels, in the column order of CT-RATE's multi_abnormality_labels CSV."""

PATHOLOGIES: tuple[str, ...] = (
    "Medical material",
    "Arterial wall calcification",
    "Cardiomegaly",
    "Pericardial effusion",
    "Coronary artery wall calcification",
    "Hiatal hernia",
    "Lymphadenopathy",
    "Emphysema",
    "Atelectasis",
    "Lung nodule",
    "Lung opacity",
    "Pulmonary fibrotic sequela",
    "Pleural effusion",
    "Mosaic attenuation pattern",
    "Peribronchial thickening",
    "Consolidation",
    "Bronchiectasis",
    "Interlobular septal thickening",
)

NUM_PATHOLOGIES = len(PATHOLOGIES)
PATHOLOGY_INDEX = {name: i for i, name in enumerate(PATHOLOGIES)}
