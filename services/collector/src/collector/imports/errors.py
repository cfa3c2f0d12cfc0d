"""Why an archive or one of its members could not be imported: each with a stable code."""

from __future__ import annotations


class ImportFailedError(Exception):
    """The archive as a whole cannot be imported; nothing of it is written."""

    code = "import_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAZipError(ImportFailedError):
    """The file is not a ZIP archive."""

    code = "not_a_zip"


class CorruptArchiveError(ImportFailedError):
    """The ZIP structure or a member's compressed data is damaged."""

    code = "corrupt_archive"


class ArchiveTooLargeError(ImportFailedError):
    """The archive would expand past the configured caps (a zip bomb, or simply too big)."""

    code = "archive_too_large"


class NoStreamingHistoryError(ImportFailedError):
    """The archive holds no Spotify streaming-history file."""

    code = "no_streaming_history"


class StoredFileMissingError(ImportFailedError):
    """The job's archive is not where its stored path says."""

    code = "stored_file_missing"


class MemberUnreadableError(Exception):
    """One member cannot be read as streaming history; the others still are."""

    code = "unreadable_member"

    def __init__(self, member: str, detail: str) -> None:
        super().__init__(f"{member}: {detail}")
        self.member = member


class InvalidJsonError(MemberUnreadableError):
    """The member is not valid JSON (often a truncated file)."""

    code = "invalid_json"


class WrongShapeError(MemberUnreadableError):
    """The member is JSON, but not a list of streaming-history records."""

    code = "wrong_shape"
