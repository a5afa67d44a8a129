"""Test helpers: a private Orthanc (Debian's, with the DICOMweb plugin) and the test studies.

``OrthancServer.start(folder)`` writes a JSON config (own storage, 127.0.0.1 only, free ports
picked now, a DicomModalities entry for RadVoice) and runs ``/usr/sbin/Orthanc`` on it;
``stop()`` ends that process. The session fixtures ``orthanc`` and ``pacs_studies`` start it
once and store lung1/lung2 (and a small head CT) as DICOM series.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ORTHANC_BIN = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
ORTHANC_AE = "ORTHANC"
RADVOICE_AE = "RADVOICE"
PATIENT_ID = "RVTEST-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OrthancServer:
    folder: Path
    http_port: int = 0
    dicom_port: int = 0
    receiver_port: int = 0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def config(self) -> dict:
        return {
            "Name": "RadVoiceTestPACS",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "StorageCompression": False,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": ORTHANC_AE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": False,
            "DicomAlwaysAllowStore": False,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "DicomCheckModalityHost": True,
            "DicomModalities": {
                "radvoice": {
                    "AET": RADVOICE_AE,
                    "Host": "127.0.0.1",
                    "Port": self.receiver_port,
                    "AllowEcho": True,
                    "AllowFind": True,
                    "AllowGet": True,
                    "AllowMove": True,
                    "AllowStore": True,
                }
            },
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "OverwriteInstances": False,
            "ConcurrentJobs": 1,
            "HttpThreadsCount": 4,
            "StableAge": 1,
            "SaveJobs": False,
        }

    def start(self, timeout_s: float = 30.0) -> OrthancServer:
        if not Path(ORTHANC_BIN).exists():
            pytest.fail(f"{ORTHANC_BIN} missing: run scripts/setup.sh (Debian orthanc)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.dicom_port, self.receiver_port = free_port(), free_port(), free_port()
        cfg = self.folder / "orthanc.json"
        cfg.write_text(json.dumps(self.config(), indent=1))
        log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            ["nice", "-n", "5", ORTHANC_BIN, str(cfg)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Orthanc exited: {(self.folder / 'orthanc.log').read_text()[-2000:]}")
            try:
                self.get("/system")
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail("Orthanc did not answer /system in time")

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def delete(self, path: str) -> None:
        req = urllib.request.Request(self.url + path, method="DELETE")
        urllib.request.urlopen(req, timeout=10).close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def node(self, name: str = "test", **kw):  # -> PacsNode
        from radvoice.pacs import PacsNode

        args = dict(
            name=name,
            ae_title=ORTHANC_AE,
            host="127.0.0.1",
            port=self.dicom_port,
            dicomweb_url=self.dicomweb_url,
            calling_ae=RADVOICE_AE,
            timeout_s=20.0,
        )
        args.update(kw)
        return PacsNode(**args)


@dataclass(frozen=True)
class TestStudies:
    """UIDs of what the session fixture stored."""

    patient_id: str
    lung1_study: str
    lung1_series: str
    lung2_study: str
    lung2_series: str
    head_study: str
    lung2_folder: Path
    n_lung1: int
    n_lung2: int


def write_test_series(real_ct_dir: Path, out: Path) -> dict[str, tuple[str, str, Path, int]]:
    """lung1 (an earlier chest CT), lung2 (the current one) and a 4-slice head CT, one patient."""
    import numpy as np
    from pydicom.uid import generate_uid

    from radvoice.imaging import Volume, read_volume, write_dicom_series

    made = {}
    specs = [
        ("lung1", "20240110", "CT CHEST", "ACC-L1"),
        ("lung2", "20250302", "CT CHEST W/O CONTRAST", "ACC-L2"),
    ]
    for name, date, desc, acc in specs:
        vol = read_volume(real_ct_dir / f"{name}_image.nrrd")
        vol.meta.update(
            StudyDate=date, StudyDescription=desc, AccessionNumber=acc, BodyPartExamined="CHEST"
        )
        study, series = generate_uid(), generate_uid()
        folder = out / name
        paths = write_dicom_series(
            vol, folder, series_uid=series, study_uid=study, patient_name="Test^Patient",
            patient_id=PATIENT_ID, series_description=f"{name} axial", series_number=2,
        )
        made[name] = (study, series, folder, len(paths))
    head = Volume(
        array=np.full((4, 64, 64), 30, np.int16), spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0),
        direction=np.eye(3), meta={"StudyDate": "20230505", "StudyDescription": "CT HEAD",
                                   "BodyPartExamined": "HEAD"},
    )
    study, series = generate_uid(), generate_uid()
    paths = write_dicom_series(head, out / "head", series_uid=series, study_uid=study,
                               patient_name="Test^Patient", patient_id=PATIENT_ID)
    made["head"] = (study, series, out / "head", len(paths))
    return made


def store_folder(node, folder: Path) -> int:
    """C-STORE every file of a folder (through RadVoice's own client)."""
    import pydicom

    from radvoice.pacs import connect

    datasets = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    return connect(node, "dimse").store(datasets)


def cleanup(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """A private Orthanc for the whole session, stopped at the end."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pacs_studies(orthanc, real_ct_dir, tmp_path_factory) -> TestStudies:
    """lung1, lung2 (one synthetic patient, lung1 the earlier study) and a head CT, stored once."""
    made = write_test_series(real_ct_dir, tmp_path_factory.mktemp("pacs_series"))
    node = orthanc.node()
    for _, _, folder, n in made.values():
        assert store_folder(node, folder) == n
    return TestStudies(
        patient_id=PATIENT_ID,
        lung1_study=made["lung1"][0],
        lung1_series=made["lung1"][1],
        lung2_study=made["lung2"][0],
        lung2_series=made["lung2"][1],
        head_study=made["head"][0],
        lung2_folder=made["lung2"][2],
        n_lung1=made["lung1"][3],
        n_lung2=made["lung2"][3],
    )


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dicom3tools' dciodvfy prints for a file (warnings are allowed)."""
    if shutil.which("dciodvfy") is None:
        pytest.fail("dciodvfy missing: run scripts/setup.sh (Debian dicom3tools)")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=300)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
