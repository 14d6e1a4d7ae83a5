"""Canvas LMS (``/api/v1``): courses, their enrollments as progress, form-encoded enrolment.

Courses ``{"id", "name", "course_code", "public_description" (HTML), "start_at", "end_at",
"workflow_state", "updated_at"}``; deleted courses are not offerings. Enrollments ``{"id",
"user_id", "course_id", "type", "enrollment_state", "grades": {"current_score"}, ...}``;
only the configured enrollment type (students) is progress. Canvas has no progress
measure: ``score`` carries the current score (0-100), ``progress`` is 1.0 once completed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.plugins._common import as_object, build, date, number, ref, text

_COURSE_STATUS = {
    "available": "open",
    "unpublished": "draft",
    "claimed": "draft",
    "completed": "closed",
}
_ENROLLMENT_STATUS = {
    "invited": "enrolled",
    "creation_pending": "enrolled",
    "completed": "completed",
    "inactive": "withdrawn",
    "rejected": "withdrawn",
    "deleted": "withdrawn",
}


class CanvasOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enrollment_type: Literal["StudentEnrollment", "ObserverEnrollment"] = "StudentEnrollment"
    course_url: str | None = Field(None, description="e.g. https://canvas.example.org/courses/{id}")
    unenrol_task: Literal["delete", "conclude", "inactivate", "deactivate"] = "delete"
    notify: bool | None = Field(None, description="send enrollment[notify] when set")
    sis_fallback: bool = Field(
        True, description="no NPO user id: enrol 'sis_user_id:<platform candidate id>'"
    )


class CanvasPlugin:
    """Code plug-in for a Canvas-LMS-shaped API."""

    __slots__ = ("_options",)
    name = "canvas"
    contract_version = CONTRACT_VERSION

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._options = CanvasOptions.model_validate(options or {})

    def offering(self, record: Any) -> Offering | None:
        course = as_object(record, "course")
        state = course.get("workflow_state")
        if state == "deleted":
            return None
        if state not in _COURSE_STATUS:
            raise TransformError(
                f"unknown workflow_state {state!r}", field="offering.status", path="workflow_state"
            )
        course_id = ref(course, "id", "offering.npo_offering_ref")
        url = self._options.course_url
        values = {
            "npo_offering_ref": course_id,
            "title": text(course, "name", "offering.title")
            or text(course, "course_code", "offering.title"),
            "description": text(course, "public_description", "offering.description", html=True)
            or "",
            "kind": "course",
            "status": _COURSE_STATUS[state],
            "starts_at": date(course, "start_at", "offering.starts_at"),
            "ends_at": date(course, "end_at", "offering.ends_at"),
            "url": url.replace("{id}", course_id) if url else None,
        }
        return build(Offering, "offering", values, {"title": "name"})

    def progress(self, record: Any) -> Progress | None:
        enrollment = as_object(record, "enrollment")
        wanted = self._options.enrollment_type
        if enrollment.get("type", wanted) != wanted:
            return None  # teachers, TAs...: not candidates
        grades = enrollment.get("grades")
        if grades is not None and not isinstance(grades, dict):
            raise TransformError("expected an object", field="progress.score", path="grades")
        current = (grades or {}).get("current_score")
        score = number(current, "progress.score", "grades.current_score")
        state = ref(enrollment, "enrollment_state", "progress.status")
        if state == "active":
            status = "enrolled" if score is None else "in_progress"
        elif state in _ENROLLMENT_STATUS:
            status = _ENROLLMENT_STATUS[state]
        else:
            raise TransformError(
                f"unknown enrollment_state {state!r}",
                field="progress.status",
                path="enrollment_state",
            )
        values = {
            "npo_enrolment_ref": text(enrollment, "id", "progress.npo_enrolment_ref"),
            "npo_offering_ref": text(enrollment, "course_id", "progress.npo_offering_ref"),
            "npo_user_ref": text(enrollment, "user_id", "progress.npo_user_ref"),
            "status": status,
            "progress": 1.0 if status == "completed" else None,
            "score": score,
            "updated_at": date(enrollment, "updated_at", "progress.updated_at"),
        }
        return build(Progress, "progress", values, {"score": "grades.current_score"})

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        candidate = assignment.candidate
        user = candidate.npo_user_ref
        if not user and self._options.sis_fallback:
            user = f"sis_user_id:{candidate.candidate_id}"  # Canvas resolves SIS ids itself
        if not user:
            raise TransformError(
                "Canvas enrols by user id; the candidate has none",
                field="enrollment[user_id]",
                path="candidate.npo_user_ref",
            )
        body: dict[str, Any] = {
            "enrollment[user_id]": user,
            "enrollment[type]": self._options.enrollment_type,
            "enrollment[enrollment_state]": "active",
        }
        if self._options.notify is not None:
            body["enrollment[notify]"] = "true" if self._options.notify else "false"
        course_id = assignment.offering.npo_offering_ref
        return EnrolmentRequest(path_vars={"course_id": course_id}, body=body)

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        course_id = assignment.offering.npo_offering_ref
        return EnrolmentRequest(
            path_vars={"course_id": course_id, "enrollment_id": npo_enrolment_ref},
            query={"task": self._options.unenrol_task},
        )

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> str | None:
        return text(as_object(response_body, "enrollment"), "id", "enrolment_ref")
