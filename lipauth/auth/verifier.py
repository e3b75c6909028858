"""Enrol, verify (1:1), identify (1:N) and delete: the facade a login talks to."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from lipauth.auth.audit import AuditLog, Origin, audited
from lipauth.auth.challenges import ChallengeBook
from lipauth.auth.decision import Decision
from lipauth.auth.modalities import ModalityScorer
from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.clip import LipClip
from lipauth.auth.attempts import AttemptLimiter, unlock
from lipauth.auth.passphrase import hash_passphrase, passphrase_matches
from lipauth.errors import FailureToEnrol, InvalidInputError, LipauthError, PassphraseRequiredError
from lipauth.pad.checks import Check, PresentationChecks
from lipauth.scoring.points import check_point_for_modalities, parse_operating_point
from lipauth.scoring.policy import DecisionPolicy
from lipauth.pad import challenge_phrases as phrases


ENROL_MODES = ("new", "replace", "add")
# An enrolment clip whose lip cosine to the mean of the others is below this is refused where
# the lips decide alone; with fusion rules, one whose fused LLR is below AGREEMENT_LLR.
AGREEMENT_COSINE = 0.0
AGREEMENT_LLR = 0.0
# identify with an index: this many nearest templates are ranked by their margins
CANDIDATE_POOL = 50


class Verifier:
    def __init__(
        self,
        model,
        store: TemplateStore,
        *,
        operating_point: str | float = "eer",
        scoring: str | None = None,
        min_enrol_clips: int = 1,
        checks: PresentationChecks | None = None,
        attempts: AttemptLimiter | None | bool = True,
        audit: AuditLog | None | bool = True,
        client: str = "library",
        modalities: tuple[str, ...] | None = None,
    ) -> None:
        """operating_point: "eer", "fmr_1pct" or "fmr_0.1pct" (thresholds the model file carries,
        calibrated on its validation speakers), or a threshold on the cosine score.

        scoring: "raw" or "normalised" (lipauth.scoring.policy); None takes the model's
        recommendation. A numeric operating point always scores raw.

        checks: the presentation-attack checks for verify(liveness=True); None loads the
        ones bundled with lipauth when first needed.

        attempts: an AttemptLimiter (lipauth.auth.attempts) that refuses verification of a
        user after too many failures; True (the default): one with the default policy (5
        failures in 15 min lock for 15 min) in `store`'s database; False or None: no limit.

        audit: an AuditLog (lipauth.auth.audit) that gets a row for every enrol, verify,
        identify and delete, with the `origin` each call names (else `client` and a new
        request id); True (the default): the trail in `store`'s database; False or None: none.

        modalities: ("lips", "voice", "face") or a part of it, lips included; None: every
        modality the model file's fusion rules cover (the lips alone for a model without, or
        with a numeric operating point, which is a threshold on the lips' cosine)."""
        self.model = model
        self._checks = checks
        self._phrase_check = None
        self.attempts = AttemptLimiter(store) if attempts is True else attempts or None
        self.audit = AuditLog(store) if audit is True else audit or None
        self.client = client
        self.index = None  # an IndexedTemplates, once build_index() made one
        self.store = store
        self.min_enrol_clips = min_enrol_clips
        self.policy = DecisionPolicy.from_model(model.embedder, operating_point, scoring)
        numeric = isinstance(parse_operating_point(operating_point), float)
        if numeric and modalities is None:  # a cosine threshold is the lips' alone: it asks for the lips alone
            modalities = ("lips",)
        self.modal = ModalityScorer(modalities, model.embedder.fusion)
        check_point_for_modalities(parse_operating_point(operating_point), self.modal.modalities)

    @property
    def threshold(self) -> float:
        """The policy's threshold for its operating point (on the normalised score when it
        scores normalised)."""
        return self.policy.threshold

    @property
    def operating_point(self) -> str:
        return self.policy.operating_point

    @property
    def scoring(self) -> str:
        return self.policy.scoring

    @property
    def fused_per_user(self) -> bool:
        """Fused decisions take the user's own threshold where the lips' do (normalised scoring)."""
        return self.policy.scoring == "normalised"

    # -- enrolment ------------------------------------------------------------------------
    def enroll(self, user_id: str, videos: Sequence[str | os.PathLike | LipClip], *, passphrase: str | None = None, mode: str = "new", origin: Origin | None = None) -> Template:
        """Make `user_id`'s template from several clips. mode: "new" refuses an enrolled id
        (StoreExistsError), "replace" replaces their template, "add" adds these clips to it.
        If any clip fails to acquire, or the clips (with the user's enrolled ones, when
        adding) do not verify against each other at this verifier's operating point, nothing
        is stored and FailureToEnrol says which clip and why."""
        with audited(self.audit, "enrol", user_id, origin or Origin(self.client), self.model.id) as rec:
            template = self._enroll(user_id, videos, passphrase, mode)
            rec.done("enrolled", mode=mode, n_clips=len(template.embeddings), n_new_clips=len(videos))
            return template

    def _enroll(self, user_id: str, videos, passphrase: str | None, mode: str) -> Template:
        _check_user_id(user_id)
        if mode not in ENROL_MODES:
            raise InvalidInputError(f"enrolment mode must be one of {', '.join(ENROL_MODES)}, got {mode!r}")
        old = None
        if mode == "add":
            old = self.store.get(user_id)  # UnknownUserError: nothing to add to
            self._check_model(old)
        elif mode == "new":
            self.store.refuse_enrolled(user_id)  # before any video work
        if len(videos) < self.min_enrol_clips:
            raise FailureToEnrol(f"enrolment needs at least {self.min_enrol_clips} clips, got {len(videos)}")
        clips, problems = [], []
        for v in videos:
            try:
                clips.append(self.model.clip(v, face_chips=self.modal.face_chips))
            except LipauthError as exc:
                problems.append(f"{_name(v)}: {exc}")
        if problems:
            raise FailureToEnrol(f"failure to enrol {user_id!r}: " + "; ".join(problems))
        new = self.model.embedder.embed_clips(clips)
        per_clip = [{"lips": e, **others} for e, others in zip(new, self.modal.enrol(clips))]
        enrolled = {"lips": old.embeddings, **old.modalities} if old is not None else {}
        self._check_agreement(user_id, per_clip, enrolled, [_name(v) for v in videos])
        # adding clips keeps what each check enrolled before; a check with nothing kept yet
        # (one added since, like AV synchrony's capture skew) enrols from the new clips
        kept = old.check_state if old is not None else {}
        state = {**self._check_state(clips, skip=tuple(kept)), **kept}
        stacked = {m: [*enrolled.get(m, ()), *(c[m] for c in per_clip if m in c)] for m in ("lips", *self.modal.extra, *enrolled)}
        modalities = {m: np.stack(v) for m, v in stacked.items() if v and m != "lips"}
        embeddings = np.stack(stacked["lips"])
        secret = hash_passphrase(passphrase) if passphrase is not None else old.passphrase_hash if old is not None else None
        template = Template.from_embeddings(user_id, embeddings, self.model.id, secret, state, modalities)
        self.store.put(template, replace=mode != "new")  # one transaction: all or nothing
        return template

    def _check_agreement(self, user_id: str, new: list[dict[str, np.ndarray]], enrolled: dict[str, np.ndarray], names: list[str]) -> None:
        """Each new clip against the mean of every other clip (new and, when adding, enrolled),
        in every modality it has: clips of two people, or a clip the pipeline got wrong, make a
        template that serves nobody. With fusion rules the clip's fused LLR must reach
        AGREEMENT_LLR (as likely the same person as not); on the lips alone the bar is a cosine
        no better than a random direction, since the lips' genuine clips miss their
        verification threshold too often to ask more."""
        bad = []
        for name, (scores, llr) in zip(names, self.modal.agreement(new, enrolled)):
            if (llr is not None and llr < AGREEMENT_LLR) or (llr is None and scores.get("lips", 1.0) < AGREEMENT_COSINE):
                shown = ", ".join(f"{m} {v:.3f}" for m, v in scores.items())
                bar = f"fused LLR {llr:+.2f} < {AGREEMENT_LLR:+.2f}" if llr is not None else f"< {AGREEMENT_COSINE:.2f}"
                bad.append(f"{name} scores {shown} against the other clips ({bar})")
        if bad:
            raise FailureToEnrol(f"the enrolment clips of {user_id!r} do not agree (are they all the same person?): " + "; ".join(bad))

    def _check_state(self, clips: list[LipClip], skip=()) -> dict:
        """Each check's enrolment state (AV synchrony keeps this user's capture skew; the
        opt-in Siamese face check their real faces). Enrolment never fails for want of the
        optional checks."""
        try:
            return self.checks.enrol(clips, skip=skip)
        except LipauthError:
            return {}

    # -- verification ---------------------------------------------------------------------
    @property
    def checks(self) -> PresentationChecks:
        if self._checks is None:
            self._checks = PresentationChecks.load()
        return self._checks

    @property
    def phrase_check(self):
        """Loaded when first needed (the recogniser's model takes ~0.2 s)."""
        if self._phrase_check is None:
            from lipauth.pad.spoken_phrase_check import SpokenPhraseCheck

            self._phrase_check = SpokenPhraseCheck()
        return self._phrase_check

    def verify(
        self,
        user_id: str,
        video: str | os.PathLike | LipClip,
        *,
        passphrase: str | None = None,
        liveness: bool = False,
        require_audio: bool = False,
        phrase: str | None = None,
        challenge: str | None = None,
        origin: Origin | None = None,
    ) -> Decision:
        """1:1 verification. liveness=True also runs the presentation-attack checks (AV
        synchrony where the video has audio, face liveness); the claim is accepted only if
        the score reaches the threshold and every check that ran passed. require_audio (with
        liveness) fails a video that has no audio track rather than skipping AV synchrony.

        phrase: a spoken challenge the video must answer. It implies liveness with audio
        required: the recogniser checks the words, AV synchrony that the voice is the lips'.
        challenge: the id of a challenge issued for this user (lipauth.auth.challenges): it is
        used up by this attempt, once the user is known and not locked, and its phrase must
        be spoken.

        The order, the same for every caller: the user is enrolled with this model; a
        passphrase is given where one was enrolled; the user is not locked; the challenge
        is redeemed; then the video is read. One audit row per attempt."""
        with audited(self.audit, "verify", user_id, origin or Origin(self.client), self.model.id) as rec:
            d = self._verify(user_id, video, passphrase, liveness, require_audio, phrase, challenge)
            checks = [{"name": c.name, "score": c.score, "threshold": c.threshold, "passed": c.passed} for c in d.checks]
            fused = {"fused": d.fused, "modality_scores": d.modality_scores, "left_out": d.left_out, "llr": d.llr} if d.modality_scores else {}
            rec.done("accepted" if d.accepted else "rejected", score=d.score, threshold=d.threshold, operating_point=d.operating_point, checks=checks, challenge=phrase is not None, **fused)
            return d

    def admit(self, user_id: str, passphrase: str | None = None) -> Template:
        """The checks an attempt passes before any video work, in verify's order: the user is
        enrolled with this model, gives a passphrase where one was enrolled, and is not
        locked. A service calls it before it reads an upload; verify calls it too."""
        template = self.store.get(user_id)  # UnknownUserError
        self._check_model(template)
        if template.passphrase_hash is not None and passphrase is None:
            raise PassphraseRequiredError(f"user {user_id!r} enrolled a passphrase: give it with the attempt")
        if self.attempts is not None:
            self.attempts.check(user_id)  # TooManyAttemptsError, before the challenge is used up
        return template

    def _verify(self, user_id: str, video, passphrase: str | None, liveness: bool, require_audio: bool, phrase: str | None, challenge: str | None) -> Decision:
        if require_audio and not liveness:
            raise InvalidInputError("require_audio is a liveness setting: ask for liveness too")
        if phrase is not None and challenge is not None:
            raise InvalidInputError("give a phrase or a challenge, not both")
        if phrase is not None:
            phrase = phrases.normalise(phrase)
        template = self.admit(user_id, passphrase)
        if challenge is not None:
            phrase = ChallengeBook(self.store).redeem(challenge, user_id).phrase
        if phrase is not None:
            liveness = require_audio = True
        # the sound only where the checks or the user's enrolled voice listen to it
        audio, chips = self.modal.probe_needs(template)
        clip = self.model.clip(video, audio=liveness or audio, face_chips=chips, thumbnails=liveness)
        probe = self.model.embedder.embed_clips([clip])[0]
        v = self.policy.decide(template.embeddings, probe)
        accepted = v.accepted
        fused = self.modal.decide(v.score, template, clip, self.policy.operating_point, probe, per_user=self.fused_per_user)
        llr, llr_threshold = v.llr, v.llr_threshold
        if fused.accepted is not None:  # the fused LLR decides; the lip score stays for reading
            accepted, llr, llr_threshold = fused.accepted, fused.llr, fused.llr_threshold
        refused = template.passphrase_hash is not None and not passphrase_matches(passphrase, template.passphrase_hash)
        accepted = accepted and not refused
        checks: list[Check] = []
        not_run: dict[str, str] = {}
        if liveness:
            checks, skipped = self.checks.run(clip, template.check_state, require_audio=require_audio)
            not_run = {c.name: c.detail for c in skipped}
        if phrase is not None:
            checks.append(self.phrase_check.run(clip, phrase))
        if checks:
            accepted = accepted and all(c.passed for c in checks)
        if self.attempts is not None:
            self.attempts.record(user_id, accepted)
        return Decision(
            user=user_id, score=v.score, threshold=v.threshold, accepted=accepted, llr=llr, operating_point=v.operating_point, checks=checks, llr_threshold=llr_threshold,
            modality_scores=fused.scores if self.modal.extra else {}, left_out=fused.left_out, fused=list(fused.modalities), not_run=not_run,
            how=v.how, fused_how=fused.how, passphrase_refused=refused, trimmed_s=clip.trimmed_s,
        )

    def decide_embedding(self, user_id: str, probe: np.ndarray):
        """The identity decision alone for a probe already embedded (batch scoring): a
        scoring.policy Verdict."""
        template = self.store.get(user_id)
        self._check_model(template)
        return self.policy.decide(template.embeddings, probe)

    def threshold_for(self, template: Template) -> tuple[float, str]:
        """The cosine threshold this user's probes must reach, and how it was set."""
        return self.policy.threshold_for(template.embeddings)

    def identify(self, video: str | os.PathLike | LipClip, k: int = 5, *, origin: Origin | None = None) -> list[Decision]:
        """The k enrolled users most like the probe, best first: ranked by the margin of the
        score over each user's own threshold, matched where it reaches it (open set: no match
        means the speaker is unknown)."""
        with audited(self.audit, "identify", None, origin or Origin(self.client), self.model.id) as rec:
            found = self._identify(video, k)
            matched = [c.user for c in found if c.accepted]
            rec.done("matched" if matched else "no_match", matched=matched, candidates=[{"user": c.user, "score": c.score, "threshold": c.threshold} for c in found])
            return found

    def prepare_for_serving(self, **index_options) -> "Verifier":
        """Ready this verifier for a long-lived process that answers many requests (the
        service): identify's index built, the lip and AV-synchrony networks frozen (half
        the embedding time), the voice and face encoders loaded and warmed, so that the
        first request does not pay for them (it still costs more than the next: 390 against
        ~250 ms, measured beside a training job); numpy's BLAS on one thread for the whole
        process; the frames decoded in a warm child process while this one tracks them
        (lipauth.video.decode_process). Returns self."""
        from threadpoolctl import threadpool_limits

        # OpenBLAS keeps an idle thread spinning for a while after a call, on one of the two
        # cores the tracking and the networks need (the face network took 83 ms instead of 8
        # after one); a verify's BLAS work is on vectors, which a second thread cannot speed.
        threadpool_limits(1, user_api="blas")
        self.model.pipeline.decode_in_a_process()
        if self.index is None:
            self.build_index(**index_options)
        self.model.embedder.freeze_for_inference()
        self.model.warm_up()  # traced and frozen now
        self.modal.warm_up()
        for check in self.checks.checks:
            freeze = getattr(getattr(check, "model", None), "freeze_for_inference", None)
            if freeze is not None:  # checks with a network (AV synchrony); others have none
                freeze()
        return self

    def build_index(self, **index_options):
        """Index this model's templates for identify (lipauth.auth.indexed): the store's
        templates are decrypted once, here; later enrolments and deletions, by any process,
        are picked up from the store's change log at each search."""
        from lipauth.auth.indexed import IndexedTemplates

        others = self.modal.extra if self.modal.fusion is not None else ()  # identify shortlists by them too
        self.index = IndexedTemplates(self.store, self.model.ids, modalities=others, **index_options)
        return self.index

    def _identify(self, video, k: int) -> list[Decision]:
        if self.modal.extra:
            return self._identify_fused(video, k)
        if self.index is not None:
            probe = self.model.embed(video)
            # the nearest by cosine, then ranked as without the index, by the margin over each
            # user's own threshold (which enrolment-normalised scoring sets per user)
            near = self.index.nearest(probe, max(k, CANDIDATE_POOL))
            verdicts = [(u, self.policy.decide_score(c, own)) for u, c, own in near]
            verdicts.sort(key=lambda uv: -(uv[1].score - uv[1].threshold))
            return [_candidate(u, v) for u, v in verdicts[:k]]
        templates = [t for t in self.store.templates() if t.model_id in self.model.ids]
        if not templates:
            return []
        probe = self.model.embed(video)
        verdicts = [self.policy.decide(t.embeddings, probe) for t in templates]
        order = np.argsort([-(v.score - v.threshold) for v in verdicts], kind="stable")[:k]
        return [_candidate(templates[i].user_id, verdicts[i]) for i in order]

    def _identify_fused(self, video, k: int) -> list[Decision]:
        """The shortlist (the index's CANDIDATE_POOL nearest by the lips, by the voice and by
        the face, or every template), then each candidate's fused decision, ranked by its
        margin over its threshold: the probe's other modalities are computed once."""
        clip = self.model.clip(video, audio=self.modal.needs_audio, face_chips=self.modal.face_chips)
        probe = self.model.embedder.embed_clips([clip])[0]
        vectors, left_out = self.modal.vectors(clip)
        if self.index is not None:
            pool = max(k, CANDIDATE_POOL)
            shortlist = [(u, self.policy.decide_score(c, own)) for u, c, own in self.index.nearest(probe, pool)]
            templates = {u: self.store.get(u) for u, _ in shortlist}
            # the pool nearest by the voice and by the face too: the lips do not hold across
            # recordings, so a person the lips put outside their pool is still found
            for name, v in vectors.items():
                for u, _ in self.index.nearest_by(name, v, pool, refresh=False):  # nearest() just read the log
                    if u not in templates:
                        templates[u] = self.store.get(u)
                        shortlist.append((u, self.policy.decide(templates[u].embeddings, probe)))
        else:
            templates = {t.user_id: t for t in self.store.templates() if t.model_id in self.model.ids}
            shortlist = [(u, self.policy.decide(t.embeddings, probe)) for u, t in templates.items()]
        vectors["lips"] = probe
        ranked = []
        for user, v in shortlist:
            f = self.modal.fuse(v.score, templates[user], vectors, left_out, self.policy.operating_point, per_user=self.fused_per_user)
            if f.accepted is None:  # only the lips for this user: their margin ranks them, as an LLR where calibrated
                margin = v.llr - v.llr_threshold if v.llr is not None and v.llr_threshold is not None else v.score - v.threshold
                ranked.append((margin, _candidate(user, v)))
            else:  # the fused margin, in LLR units
                ranked.append((f.llr - f.llr_threshold, Decision(user, v.score, v.threshold, f.accepted, f.llr, v.operating_point, llr_threshold=f.llr_threshold, modality_scores=f.scores, left_out=f.left_out, fused=list(f.modalities))))
        ranked.sort(key=lambda mc: -mc[0])
        return [c for _, c in ranked[:k]]

    def unlock(self, user_id: str, *, origin: Origin | None = None) -> bool:
        """Clear the user's failed attempts (ending a cool-down); whether there were any.
        UnknownUserError for a user who is not enrolled (lipauth.auth.attempts.unlock)."""
        return unlock(self.store, user_id, audit=self.audit, origin=origin or Origin(self.client))

    def delete(self, user_id: str, *, origin: Origin | None = None) -> None:
        with audited(self.audit, "delete", user_id, origin or Origin(self.client), None) as rec:
            self.store.delete(user_id)
            rec.done("deleted")

    def _check_model(self, template: Template) -> None:
        if template.model_id not in self.model.ids:
            raise InvalidInputError(f"user {template.user_id!r} was enrolled with another model ({template.model_id}); enrol again with this one ({self.model.id})")


def _candidate(user: str, v) -> Decision:
    """identify's answer for one user, decided on the lips (a scoring.policy Verdict)."""
    return Decision(user, v.score, v.threshold, v.accepted, v.llr, v.operating_point, llr_threshold=v.llr_threshold)


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 256 or any(c in user_id for c in "\x00\n\r/"):
        raise InvalidInputError(f"user id must be 1-256 characters without '/', NUL or line breaks, got {user_id!r}")


def _name(v) -> str:
    return v.meta.clip_id if isinstance(v, LipClip) else os.fspath(v)

