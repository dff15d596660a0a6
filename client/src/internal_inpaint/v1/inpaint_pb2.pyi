from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PixelType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIXEL_TYPE_UNSPECIFIED: _ClassVar[PixelType]
    HALF: _ClassVar[PixelType]
    FLOAT: _ClassVar[PixelType]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    UPLOADING: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    TRAINING: _ClassVar[JobState]
    INFERRING: _ClassVar[JobState]
    DONE: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]

class NonFinitePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NON_FINITE_POLICY_UNSPECIFIED: _ClassVar[NonFinitePolicy]
    REFUSE: _ClassVar[NonFinitePolicy]
    INPAINT: _ClassVar[NonFinitePolicy]

class ProgressiveMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROGRESSIVE_AUTO: _ClassVar[ProgressiveMode]
    PROGRESSIVE_ON: _ClassVar[ProgressiveMode]
    PROGRESSIVE_OFF: _ClassVar[ProgressiveMode]

class FillMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILL_GUIDED: _ClassVar[FillMode]
    FILL_PAPER: _ClassVar[FillMode]
    FILL_PROPAGATION: _ClassVar[FillMode]

class WarmStartMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARM_START_AUTO: _ClassVar[WarmStartMode]
    WARM_START_OFF: _ClassVar[WarmStartMode]
    WARM_START_FORCE: _ClassVar[WarmStartMode]
PIXEL_TYPE_UNSPECIFIED: PixelType
HALF: PixelType
FLOAT: PixelType
JOB_STATE_UNSPECIFIED: JobState
UPLOADING: JobState
QUEUED: JobState
TRAINING: JobState
INFERRING: JobState
DONE: JobState
FAILED: JobState
CANCELLED: JobState
NON_FINITE_POLICY_UNSPECIFIED: NonFinitePolicy
REFUSE: NonFinitePolicy
INPAINT: NonFinitePolicy
PROGRESSIVE_AUTO: ProgressiveMode
PROGRESSIVE_ON: ProgressiveMode
PROGRESSIVE_OFF: ProgressiveMode
FILL_GUIDED: FillMode
FILL_PAPER: FillMode
FILL_PROPAGATION: FillMode
WARM_START_AUTO: WarmStartMode
WARM_START_OFF: WarmStartMode
WARM_START_FORCE: WarmStartMode

class FrameLayout(_message.Message):
    __slots__ = ("width", "height", "channels", "pixel_type")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PIXEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    channels: _containers.RepeatedScalarFieldContainer[str]
    pixel_type: PixelType
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., channels: _Optional[_Iterable[str]] = ..., pixel_type: _Optional[_Union[PixelType, str]] = ...) -> None: ...

class UploadSource(_message.Message):
    __slots__ = ("frames", "layout", "reference_frames")
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    frames: _containers.RepeatedScalarFieldContainer[int]
    layout: FrameLayout
    reference_frames: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, frames: _Optional[_Iterable[int]] = ..., layout: _Optional[_Union[FrameLayout, _Mapping]] = ..., reference_frames: _Optional[_Iterable[int]] = ...) -> None: ...

class Reference(_message.Message):
    __slots__ = ("frame", "image", "matte")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MATTE_FIELD_NUMBER: _ClassVar[int]
    frame: int
    image: str
    matte: str
    def __init__(self, frame: _Optional[int] = ..., image: _Optional[str] = ..., matte: _Optional[str] = ...) -> None: ...

class PathSource(_message.Message):
    __slots__ = ("plate", "matte", "output", "frames", "overwrite", "references")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    MATTE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    plate: str
    matte: str
    output: str
    frames: str
    overwrite: bool
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    def __init__(self, plate: _Optional[str] = ..., matte: _Optional[str] = ..., output: _Optional[str] = ..., frames: _Optional[str] = ..., overwrite: bool = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ...) -> None: ...

class MatteSettings(_message.Message):
    __slots__ = ("channel", "threshold", "dilate", "mask_frame")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DILATE_FIELD_NUMBER: _ClassVar[int]
    MASK_FRAME_FIELD_NUMBER: _ClassVar[int]
    channel: str
    threshold: float
    dilate: int
    mask_frame: int
    def __init__(self, channel: _Optional[str] = ..., threshold: _Optional[float] = ..., dilate: _Optional[int] = ..., mask_frame: _Optional[int] = ...) -> None: ...

class TrainingSettings(_message.Message):
    __slots__ = ("preset", "iterations", "seed", "preview_every", "stabilisation", "anti_ambiguity", "time_budget_minutes", "progressive", "fill", "seen_channel", "warm_start", "warm_start_job")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    STABILISATION_FIELD_NUMBER: _ClassVar[int]
    ANTI_AMBIGUITY_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_MINUTES_FIELD_NUMBER: _ClassVar[int]
    PROGRESSIVE_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    SEEN_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    WARM_START_JOB_FIELD_NUMBER: _ClassVar[int]
    preset: str
    iterations: int
    seed: int
    preview_every: int
    stabilisation: float
    anti_ambiguity: float
    time_budget_minutes: float
    progressive: ProgressiveMode
    fill: FillMode
    seen_channel: bool
    warm_start: WarmStartMode
    warm_start_job: str
    def __init__(self, preset: _Optional[str] = ..., iterations: _Optional[int] = ..., seed: _Optional[int] = ..., preview_every: _Optional[int] = ..., stabilisation: _Optional[float] = ..., anti_ambiguity: _Optional[float] = ..., time_budget_minutes: _Optional[float] = ..., progressive: _Optional[_Union[ProgressiveMode, str]] = ..., fill: _Optional[_Union[FillMode, str]] = ..., seen_channel: bool = ..., warm_start: _Optional[_Union[WarmStartMode, str]] = ..., warm_start_job: _Optional[str] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("name", "upload", "paths", "matte", "training", "non_finite")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    MATTE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    NON_FINITE_FIELD_NUMBER: _ClassVar[int]
    name: str
    upload: UploadSource
    paths: PathSource
    matte: MatteSettings
    training: TrainingSettings
    non_finite: NonFinitePolicy
    def __init__(self, name: _Optional[str] = ..., upload: _Optional[_Union[UploadSource, _Mapping]] = ..., paths: _Optional[_Union[PathSource, _Mapping]] = ..., matte: _Optional[_Union[MatteSettings, _Mapping]] = ..., training: _Optional[_Union[TrainingSettings, _Mapping]] = ..., non_finite: _Optional[_Union[NonFinitePolicy, str]] = ...) -> None: ...

class CreateJobRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "spec", "state", "message", "iteration", "iterations", "loss", "frames_total", "frames_received", "frames_written", "queue_position", "created_unix", "updated_unix", "last_sequence")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FRAMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: JobSpec
    state: JobState
    message: str
    iteration: int
    iterations: int
    loss: float
    frames_total: int
    frames_received: int
    frames_written: int
    queue_position: int
    created_unix: float
    updated_unix: float
    last_sequence: int
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., message: _Optional[str] = ..., iteration: _Optional[int] = ..., iterations: _Optional[int] = ..., loss: _Optional[float] = ..., frames_total: _Optional[int] = ..., frames_received: _Optional[int] = ..., frames_written: _Optional[int] = ..., queue_position: _Optional[int] = ..., created_unix: _Optional[float] = ..., updated_unix: _Optional[float] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class FrameChunk(_message.Message):
    __slots__ = ("job_id", "frame", "offset", "frame_size", "data", "sha256", "reference")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FRAME_SIZE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    frame: int
    offset: int
    frame_size: int
    data: bytes
    sha256: str
    reference: bool
    def __init__(self, job_id: _Optional[str] = ..., frame: _Optional[int] = ..., offset: _Optional[int] = ..., frame_size: _Optional[int] = ..., data: _Optional[bytes] = ..., sha256: _Optional[str] = ..., reference: bool = ...) -> None: ...

class UploadSummary(_message.Message):
    __slots__ = ("job_id", "frames_received", "frames_missing", "state", "references_missing")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FRAMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_MISSING_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_MISSING_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    frames_received: _containers.RepeatedScalarFieldContainer[int]
    frames_missing: _containers.RepeatedScalarFieldContainer[int]
    state: JobState
    references_missing: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_id: _Optional[str] = ..., frames_received: _Optional[_Iterable[int]] = ..., frames_missing: _Optional[_Iterable[int]] = ..., state: _Optional[_Union[JobState, str]] = ..., references_missing: _Optional[_Iterable[int]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "after_sequence", "previews")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PREVIEWS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_sequence: int
    previews: bool
    def __init__(self, job_id: _Optional[str] = ..., after_sequence: _Optional[int] = ..., previews: bool = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "sequence", "time_unix", "state", "state_change", "training", "preview", "frame_written", "notice", "finished")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    FRAME_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    sequence: int
    time_unix: float
    state: JobState
    state_change: StateChange
    training: TrainingProgress
    preview: Preview
    frame_written: FrameWritten
    notice: Notice
    finished: Finished
    def __init__(self, job_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time_unix: _Optional[float] = ..., state: _Optional[_Union[JobState, str]] = ..., state_change: _Optional[_Union[StateChange, _Mapping]] = ..., training: _Optional[_Union[TrainingProgress, _Mapping]] = ..., preview: _Optional[_Union[Preview, _Mapping]] = ..., frame_written: _Optional[_Union[FrameWritten, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., finished: _Optional[_Union[Finished, _Mapping]] = ...) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class TrainingProgress(_message.Message):
    __slots__ = ("iteration", "iterations", "loss", "elapsed_seconds", "eta_seconds")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    iterations: int
    loss: float
    elapsed_seconds: float
    eta_seconds: float
    def __init__(self, iteration: _Optional[int] = ..., iterations: _Optional[int] = ..., loss: _Optional[float] = ..., elapsed_seconds: _Optional[float] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class Preview(_message.Message):
    __slots__ = ("iteration", "width", "height", "png")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    width: int
    height: int
    png: bytes
    def __init__(self, iteration: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., png: _Optional[bytes] = ...) -> None: ...

class FrameWritten(_message.Message):
    __slots__ = ("frame", "done", "total")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    frame: int
    done: int
    total: int
    def __init__(self, frame: _Optional[int] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("level", "text")
    class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LEVEL_UNSPECIFIED: _ClassVar[Notice.Level]
        INFO: _ClassVar[Notice.Level]
        WARNING: _ClassVar[Notice.Level]
    LEVEL_UNSPECIFIED: Notice.Level
    INFO: Notice.Level
    WARNING: Notice.Level
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    level: Notice.Level
    text: str
    def __init__(self, level: _Optional[_Union[Notice.Level, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Finished(_message.Message):
    __slots__ = ("message", "iterations", "final_loss", "train_seconds", "total_seconds", "propagation_seconds", "fill_seconds_per_frame", "seen_fraction")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROPAGATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILL_SECONDS_PER_FRAME_FIELD_NUMBER: _ClassVar[int]
    SEEN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    message: str
    iterations: int
    final_loss: float
    train_seconds: float
    total_seconds: float
    propagation_seconds: float
    fill_seconds_per_frame: float
    seen_fraction: float
    def __init__(self, message: _Optional[str] = ..., iterations: _Optional[int] = ..., final_loss: _Optional[float] = ..., train_seconds: _Optional[float] = ..., total_seconds: _Optional[float] = ..., propagation_seconds: _Optional[float] = ..., fill_seconds_per_frame: _Optional[float] = ..., seen_fraction: _Optional[float] = ...) -> None: ...

class DownloadResultRequest(_message.Message):
    __slots__ = ("job_id", "frames", "chunk_bytes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    frames: _containers.RepeatedScalarFieldContainer[int]
    chunk_bytes: int
    def __init__(self, job_id: _Optional[str] = ..., frames: _Optional[_Iterable[int]] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[JobState]
    def __init__(self, states: _Optional[_Iterable[_Union[JobState, str]]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job_id", "bytes_freed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    BYTES_FREED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    bytes_freed: int
    def __init__(self, job_id: _Optional[str] = ..., bytes_freed: _Optional[int] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("version", "api", "device", "max_chunk_bytes", "max_frame_bytes", "path_mode", "allowed_roots", "jobs_waiting")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    PATH_MODE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ROOTS_FIELD_NUMBER: _ClassVar[int]
    JOBS_WAITING_FIELD_NUMBER: _ClassVar[int]
    version: str
    api: str
    device: str
    max_chunk_bytes: int
    max_frame_bytes: int
    path_mode: bool
    allowed_roots: _containers.RepeatedScalarFieldContainer[str]
    jobs_waiting: int
    def __init__(self, version: _Optional[str] = ..., api: _Optional[str] = ..., device: _Optional[str] = ..., max_chunk_bytes: _Optional[int] = ..., max_frame_bytes: _Optional[int] = ..., path_mode: bool = ..., allowed_roots: _Optional[_Iterable[str]] = ..., jobs_waiting: _Optional[int] = ...) -> None: ...
