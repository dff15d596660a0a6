"""The gRPC face of the job manager: requests in, status codes and messages out.

Every handler turns a ServiceError into its status code with the error's
message, a library error (inpaint_core.errors) into the status its class has in
server/error_table.py (the table the command line's exit codes come from), and
any other exception into INTERNAL (logged with its traceback): a request can
fail, the server cannot.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading

import grpc

from inpaint_core.errors import InpaintError
from inpaint_core.io import SequencePattern, read_frame
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc
from server import __version__
from server.error_table import grpc_status

from .errors import InvalidRequest, JobWasCancelled, ServiceError, WrongJobState, is_disk_full, spool_full_message
from .jobs import JobManager
from .specs import OUTPUT_NAME, pixel_dtype

log = logging.getLogger("internal_inpaint.server")
API = "internal_inpaint.v1"


def _abort(context: grpc.ServicerContext, exc: Exception, handler: str, spool_root: str) -> None:
    """End the call with the error's status; anything unforeseen is INTERNAL, logged with its traceback."""
    if isinstance(exc, ServiceError):
        context.abort(exc.code, str(exc))
    if isinstance(exc, InpaintError):  # the library refused what the request asked: the table says how to answer
        context.abort(grpc_status(exc), str(exc))
    if is_disk_full(exc):
        log.error("%s: the spool's disk is full (%s)", handler, exc)
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, spool_full_message(spool_root))
    if not context.is_active():  # the client hung up (or its deadline passed): nobody to answer
        log.info("%s: the client went away (%s)", handler, type(exc).__name__)
        return
    log.error("%s failed", handler, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, f"Internal error in {handler}: {type(exc).__name__}: {exc}")


def _answers_errors(handler):
    """Map errors of a unary handler to statuses."""

    @functools.wraps(handler)
    def wrapper(self, request, context):
        try:
            return handler(self, request, context)
        except Exception as exc:  # the server must outlive any request
            _abort(context, exc, handler.__name__, self.manager.spool.root)

    return wrapper


def _answers_errors_streaming(handler):
    """The same for handlers that yield."""

    @functools.wraps(handler)
    def wrapper(self, request, context):
        try:
            yield from handler(self, request, context)
        except Exception as exc:
            _abort(context, exc, handler.__name__, self.manager.spool.root)

    return wrapper


class InpaintService(pb_grpc.InpaintServicer):
    def __init__(self, manager: JobManager, max_watchers: int = 16):
        self.manager = manager
        # A watch holds one of the server's RPC threads until its job ends; beyond this many at once a watch
        # answers with the events so far and ends (the client library watches again after a pause), so that
        # uploads, GetJob and cancels always find a free thread however many clients watch.
        self._watch_slots = threading.BoundedSemaphore(max_watchers)

    @_answers_errors
    def GetServerInfo(self, request, context):
        settings = self.manager.settings
        return pb.ServerInfo(
            version=__version__, api=API, device=self.manager.device_name,
            max_chunk_bytes=settings.max_chunk_bytes, max_frame_bytes=settings.max_frame_bytes,
            path_mode=self.manager.roots.enabled, allowed_roots=self.manager.roots.roots,
            jobs_waiting=self.manager.waiting_count(),
        )

    @_answers_errors
    def CreateJob(self, request, context):
        record = self.manager.create(request.spec)
        log.info("job %s created (%s, %d frames)", record.id, request.spec.WhichOneof("source"), record.frames_total)
        return self.manager.job_proto(record)

    @_answers_errors
    def UploadFrames(self, request_iterator, context):
        receiver = None
        try:
            for chunk in request_iterator:
                if receiver is None:
                    receiver = self.manager.receiver(chunk.job_id)
                receiver.add(chunk)
            if receiver is None:
                raise InvalidRequest("The upload carried no chunks.")
            receiver.check_complete()
        finally:
            if receiver is not None:
                receiver.abort()  # an incomplete frame (client gone, bad chunk) leaves nothing behind
                summary = self.manager.frames_arrived(receiver.job_id)  # complete frames count, even on error
        summary.frames_received.extend(receiver.completed)
        return summary

    @_answers_errors_streaming
    def WatchJob(self, request, context):
        if not self._watch_slots.acquire(blocking=False):
            yield from self.manager.events(request.job_id, request.after_sequence, request.previews,
                                           context.is_active, follow=False)
            return
        try:
            yield from self.manager.events(request.job_id, request.after_sequence, request.previews,
                                           context.is_active)
        finally:
            self._watch_slots.release()

    @_answers_errors_streaming
    def DownloadResult(self, request, context):
        record = self.manager.get(request.job_id)
        if record.state == pb.CANCELLED:
            raise JobWasCancelled(f"Job {record.id} was cancelled: it has no results.")
        if record.state != pb.DONE:
            raise WrongJobState(f"Job {record.id} is {pb.JobState.Name(record.state)}; results exist once it is DONE.")
        if record.spec.WhichOneof("source") != "upload":
            raise WrongJobState(f"Job {record.id} wrote its results to {record.spec.paths.output}; read them there.")
        frames = list(request.frames) or sorted(record.spec.upload.frames)
        unknown = sorted(set(frames) - set(record.spec.upload.frames))
        if unknown:
            raise InvalidRequest(f"Frames {unknown[:10]} are not in job {record.id}.")
        chunk = min(request.chunk_bytes or self.manager.settings.max_chunk_bytes, self.manager.settings.max_chunk_bytes)
        output = SequencePattern.parse(os.path.join(self.manager.spool.job_dir(record.id), "output", OUTPUT_NAME))
        dtype = pixel_dtype(record.spec.upload.layout)
        for frame in frames:
            if not context.is_active():
                return
            yield from _frame_chunks(record.id, frame, _result_bytes(output.path(frame), dtype), chunk)

    @_answers_errors
    def CancelJob(self, request, context):
        return self.manager.job_proto(self.manager.cancel(request.job_id))

    @_answers_errors
    def GetJob(self, request, context):
        return self.manager.job_proto(self.manager.get(request.job_id))

    @_answers_errors
    def ListJobs(self, request, context):
        records = self.manager.spool.list(request.states)
        return pb.ListJobsResponse(jobs=self.manager.job_protos(records))

    @_answers_errors
    def DeleteJob(self, request, context):
        freed = self.manager.delete(request.job_id)
        log.info("job %s deleted (%d bytes)", request.job_id, freed)
        return pb.DeleteJobResponse(job_id=request.job_id, bytes_freed=freed)


def _result_bytes(path: str, dtype) -> bytes:
    # Not the table's status (an ImageReadError is INVALID_ARGUMENT there): the request is fine, the job's stored
    # result is not, so the answer is about the job's state.
    try:
        pixels = read_frame(path).pixels
    except InpaintError as exc:
        raise WrongJobState(f"The result frame {os.path.basename(path)} cannot be read: {exc}") from exc
    return pixels.astype(dtype, copy=False).tobytes()


def _frame_chunks(job_id: str, frame: int, data: bytes, chunk: int):
    """One frame as chunks, hashed as they go (the digest rides on the last chunk)."""
    digest = hashlib.sha256()
    view = memoryview(data)
    size = len(data)
    for offset in range(0, size, chunk):
        piece = view[offset:offset + chunk]
        digest.update(piece)
        end = offset + len(piece)
        yield pb.FrameChunk(job_id=job_id, frame=frame, offset=offset, frame_size=size, data=bytes(piece),
                            sha256=digest.hexdigest() if end == size else "")


class _Undecodable:
    """What a tolerant deserializer hands on for bytes that are not a valid message."""

    def __init__(self, error: Exception):
        self.error = error


def _tolerant(deserialize):
    def decode(data: bytes):
        try:
            return deserialize(data)
        except Exception as exc:  # google.protobuf.message.DecodeError, mostly
            return _Undecodable(exc)

    return decode


def _undecodable_message(request: _Undecodable) -> str:
    return f"The request is not a valid message of this API and cannot be parsed: {request.error}"


class RequestDecoding(grpc.ServerInterceptor):
    """Malformed request bytes become INVALID_ARGUMENT, not gRPC's own INTERNAL "Exception deserializing".

    Applies to the methods whose full names start with ``prefix`` (the Inpaint service's).
    """

    def __init__(self, prefix: str):
        self._prefix = prefix

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefix) \
                or handler.request_deserializer is None:
            return handler
        decode = _tolerant(handler.request_deserializer)
        if handler.request_streaming:
            behaviour = handler.stream_stream or handler.stream_unary

            def streaming(request_iterator, context):
                def checked():
                    for request in request_iterator:
                        if isinstance(request, _Undecodable):
                            raise InvalidRequest(_undecodable_message(request))
                        yield request

                return behaviour(checked(), context)

            make = (grpc.stream_stream_rpc_method_handler if handler.response_streaming
                    else grpc.stream_unary_rpc_method_handler)
            return make(streaming, request_deserializer=decode, response_serializer=handler.response_serializer)
        behaviour = handler.unary_stream or handler.unary_unary

        def unary(request, context):
            if isinstance(request, _Undecodable):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, _undecodable_message(request))
            return behaviour(request, context)

        make = (grpc.unary_stream_rpc_method_handler if handler.response_streaming
                else grpc.unary_unary_rpc_method_handler)
        return make(unary, request_deserializer=decode, response_serializer=handler.response_serializer)
