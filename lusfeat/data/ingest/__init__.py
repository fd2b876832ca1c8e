"""Real-data ingest: images, DICOM and video, confidence masks, clinical tables.

``ingest`` reads a manifest CSV (see ``docs/ingest.md``), detects each scan's region
(convex fan or linear rectangle), crops and resizes frames with every step recorded,
de-identifies DICOM, imports a clinical table and writes a lusfeat cohort.
"""

from ._clinical import EXTRA_CLINICAL_COLUMNS, read_clinical
from ._confidence import ConfidenceScale
from ._dicom import DICOM_COPIED_TAGS, DICOM_IDENTIFYING_TAGS, read_dicom
from ._ingest import PREPROCESSING_COLUMNS, ingest
from ._preprocess import preprocess_frame
from ._problems import Problems
from ._readers import SourceFrames, read_source
from ._sector import ScanRegion, detect_scan_region

__all__ = [
    "ConfidenceScale",
    "DICOM_COPIED_TAGS",
    "DICOM_IDENTIFYING_TAGS",
    "EXTRA_CLINICAL_COLUMNS",
    "PREPROCESSING_COLUMNS",
    "Problems",
    "ScanRegion",
    "SourceFrames",
    "detect_scan_region",
    "ingest",
    "preprocess_frame",
    "read_clinical",
    "read_dicom",
    "read_source",
]
