"""ETSI EN 319 102-1's validation with proofs of existence (§5.5 past signature validation, §5.6.3 the
long-term process) for one PDF signature, driving pyHanko's AdES building blocks.

Taken from pyHanko 0.38 ``pyhanko.sign.validation.ades._scoped_ades_lta_validation`` (steps 1 to 8 are
its steps, in its order, with its helpers: the prima facie proofs of existence from the document
timestamps, the DSS and the signature's revocation archival as local knowledge, the signature
timestamps, ``_ades_past_signature_validation``, the algorithm check at the proven time), changed
where pyHanko cannot conclude on files that ETSI's process passes:

1. Revocation answers are picked per certificate. pyHanko's OCSP check (pyhanko-certvalidator
   ``verify_ocsp_response``) counts an answer about another certificate of the same issuer (the other
   signer's, the TSA's, all in the DSS) as a failure, so a stale answer for the signer no longer reads
   as "stale" (TRY_LATER, which the past validation can improve) but as a general chain failure, and
   past validation is skipped. Here each check is offered only the answers about its certificate.
2. A signature without a signature timestamp is not refused at the current time: pyHanko's process
   for signatures with time answers SIG_CONSTRAINTS_FAILURE ("No signature timestamp present"); ETSI
   takes the best signature time from the proofs of existence (here the document timestamps), so the
   basic validation's result goes on to the past validation.
3. A signature that passes at the current time is not sent through the past validation, which only
   has something to add to an INDETERMINATE result (pyHanko runs it and keeps its English
   "did not manage to improve" message in a valid signature's result).

Everything else (which proofs of existence count, how the revocation data's issuance is proven, the
chain built in the past) is pyHanko's.
"""

from __future__ import annotations

import dataclasses
from copy import copy
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed
from pyhanko.sign.validation import ades, generic_cms
from pyhanko.sign.validation.ades import AdESLTAValidationResult
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    bootstrap_validation_data_handlers,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.errors import PathError
from pyhanko_certvalidator.ltv.poe import POEManager, POEType
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

__all__ = ["lta_validation", "answers_only_about_their_certificate", "chain_failure_cause", "FURTHER_PROCESSING",
           "PAST_OUTCOMES"]

FURTHER_PROCESSING = frozenset({
    AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED, AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE, AdESIndeterminate.TRY_LATER,
})
"""Current-time results that proofs of existence can improve (ETSI EN 319 102-1 §5.6.3.4 step 3; pyHanko's
``_LTA_FURTHER_PROC`` without PASSED, which needs nothing more)."""


PAST_OUTCOMES = frozenset({AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE, AdESFailure.NOT_YET_VALID})
"""What the past signature validation itself concludes (pyHanko's ``_ades_past_signature_validation``)."""


def _about(container: Any, serial: int) -> bool:
    """The OCSP answer (one SingleResponse of it) is about the certificate with this serial number."""
    try:
        return container.extract_single_response()["cert_id"]["serial_number"].native == serial
    except (KeyError, ValueError, TypeError, AttributeError):
        return True  # unreadable: left to pyHanko, which reports it


def answers_only_about_their_certificate(revinfo_manager: Any) -> None:
    """Make this revocation manager (one operation's, not pyHanko's class) offer each certificate's check only
    the OCSP answers about that certificate."""
    retrieve = revinfo_manager.async_retrieve_ocsps

    async def matching(cert, authority):
        found = await retrieve(cert, authority)
        if not isinstance(cert, asn1_x509.Certificate):
            return found  # an attribute certificate: not ours to judge
        return [container for container in found if _about(container, cert.serial_number)]

    revinfo_manager.async_retrieve_ocsps = matching


async def chain_failure_cause(cert: asn1_x509.Certificate, intermediates: list, context: ValidationContext,
                              usage: dict) -> tuple[Any, str] | None:
    """The ETSI sub-indication of why `cert`'s chain does not validate in `context`, with certvalidator's words.

    pyHanko (``generic_cms.handle_certvalidator_errors``) folds an expired intermediate certificate, a missing
    revocation answer and an unusable one into CERTIFICATE_CHAIN_GENERAL_FAILURE, which the long-term process
    does not try to improve. ETSI EN 319 102-1 §5.2.6 names them: an expired certificate of the chain is
    OUT_OF_BOUNDS_NO_POE, revocation data that cannot be had or used is TRY_LATER, a revoked one REVOKED(_CA)_NO_POE.
    """
    validator = CertificateValidator(cert, intermediate_certs=intermediates, validation_context=context)
    try:
        await validator.async_validate_usage(**usage)
    except cv_errors.ExpiredError as exc:
        return AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, f"{type(exc).__name__}: {exc}"
    except cv_errors.NotYetValidError as exc:
        return AdESFailure.NOT_YET_VALID, f"{type(exc).__name__}: {exc}"
    except cv_errors.RevokedError as exc:
        sub = AdESIndeterminate.REVOKED_NO_POE if exc.is_ee_cert else AdESIndeterminate.REVOKED_CA_NO_POE
        return sub, f"{type(exc).__name__}: {exc}"
    except cv_errors.InsufficientRevinfoError as exc:
        return AdESIndeterminate.TRY_LATER, f"{type(exc).__name__}: {exc}"
    except cv_errors.PathBuildingError as exc:
        return AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND, f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - anything else stays a general chain failure
        return None
    return None


def _has_signature_timestamp(embedded_sig: Any) -> bool:
    try:
        next(generic_cms.extract_tst_data_iter(embedded_sig.signer_info, signed=False))
        return True
    except StopIteration:
        return False


async def _basic(signed_data, validation_spec, timing_info, validation_data_handlers, raw_digest,
                 extra_status_kwargs, status_cls) -> Any:
    """pyHanko's ``_scoped_ades_basic_validation`` (ETSI §5.3) keeping `status_cls` (it builds a
    StandardCMSSignatureStatus, which cannot take a PDF signature's coverage and changes); no qualification
    requirements are set here, so its qualification step has nothing to enforce."""
    contexts = ades._init_vcs(validation_spec, timing_info, validation_data_handlers)
    interim = await ades._ades_basic_validation(
        signed_data=signed_data, validation_context=contexts[0], ts_validation_context=contexts[1],
        ac_validation_context=contexts[2], key_usage_settings=validation_spec.key_usage_settings,
        raw_digest=raw_digest, signature_not_before_time=None, extra_status_kwargs=extra_status_kwargs,
        status_cls=status_cls, algorithm_policy=validation_spec.signature_algorithm_policy,
        ts_qualification_requirements=None)
    if isinstance(interim, ades.AdESBasicValidationResult):
        return interim
    objects = ades.ValidationObjectSet(*(ades._enumerate_validation_objects(c) for c in contexts),
                                       ades._enumerate_certs_in_paths(interim))
    return ades.AdESBasicValidationResult(
        ades_subindic=interim.ades_subindic, api_status=interim.update(status_cls, with_ts=False, with_attrs=True),
        failure_msg=None, validation_objects=objects)


async def lta_validation(embedded_sig: Any, pdf_spec: PdfSignatureValidationSpec, timing: ValidationTimingInfo,
                         evidence: dict | None = None) -> AdESLTAValidationResult:
    """The long-term validation of one signature of a PDF (see the module's docstring), as pyHanko's result.

    evidence: a dict kept by the caller for one file and one validation time; the document timestamps' proofs
    of existence are validated once for every signature of the file (pyHanko does it again for each)."""
    async with ades._operation_scoped_spec(pdf_spec.signature_validation_spec) as spec:
        return await _lta(embedded_sig, dataclasses.replace(pdf_spec, signature_validation_spec=spec), timing,
                          {} if evidence is None else evidence)


async def _evidence_record(reader: Any, pdf_spec: PdfSignatureValidationSpec, timing: ValidationTimingInfo,
                           evidence: dict) -> tuple[list, LocalKnowledge, POEManager | None]:
    """(1) The document timestamps as evidence record, with the DSS as knowledge: once per file."""
    if "record" not in evidence:
        poe_list = ades._build_prima_facie_poe_index_from_pdf_timestamps(
            reader, include_content_ts=True, diff_policy=pdf_spec.diff_policy)
        known = pdf_spec.signature_validation_spec.local_knowledge
        dss = ades._dss_to_local_knowledge(reader=reader)
        knowledge = LocalKnowledge(
            known_ocsps=known.known_ocsps + dss.known_ocsps, known_crls=known.known_crls + dss.known_crls,
            known_certs=known.known_certs + dss.known_certs, known_poes=known.known_poes,
            nonrevoked_assertions=known.nonrevoked_assertions)
        spec = dataclasses.replace(pdf_spec.signature_validation_spec, local_knowledge=knowledge)
        try:
            poe_manager = await ades._validate_prima_facie_poe(poe_list, validation_spec=spec, cur_timing_info=timing)
        except SignatureValidationError:
            poe_manager = None  # the chain of document timestamps does not hold: no proof of existence from it
        evidence["record"] = (poe_list, knowledge, poe_manager)
    poe_list, knowledge, poe_manager = evidence["record"]
    return poe_list, knowledge, None if poe_manager is None else copy(poe_manager)


async def _lta(embedded_sig: Any, pdf_spec: PdfSignatureValidationSpec, timing: ValidationTimingInfo,
               evidence: dict) -> AdESLTAValidationResult:
    # (1) the document timestamps as evidence record; the DSS and the signature's own archival as knowledge
    poe_list, shared, poe_manager = await _evidence_record(embedded_sig.reader, pdf_spec, timing, evidence)
    archival = ades._adobe_revinfo_archival_to_local_knowledge(embedded_sig)
    knowledge = dataclasses.replace(shared, known_ocsps=shared.known_ocsps + archival.known_ocsps,
                                    known_crls=shared.known_crls + archival.known_crls)
    spec = dataclasses.replace(pdf_spec.signature_validation_spec, local_knowledge=knowledge)
    following = [p for p in poe_list if p.pdf_revision > embedded_sig.signed_revision]
    oldest_record: datetime | None = None
    if poe_manager is not None and following:
        oldest_record = min(following, key=lambda p: p.pdf_revision).timestamp_dt
    if oldest_record is None or poe_manager is None:
        poe_manager = POEManager()
        knowledge.add_to_poe_manager(poe_manager)

    # (3) validation at the current time, each revocation check offered only its certificate's answers
    handlers = bootstrap_validation_data_handlers(spec=spec, timing_info=timing, poe_manager_override=copy(poe_manager))
    answers_only_about_their_certificate(handlers.revinfo_manager)
    common = dict(signed_data=embedded_sig.signed_data, validation_spec=spec, timing_info=timing,
                  validation_data_handlers=handlers, raw_digest=embedded_sig.compute_digest(),
                  extra_status_kwargs=embedded_sig.summarise_integrity_info(), status_cls=PdfSignatureStatus)
    signature_bytes = embedded_sig.signer_info["signature"].native
    if _has_signature_timestamp(embedded_sig):
        prelim = await ades.ades_with_time_validation(**common)
        best_time = prelim.best_signature_time
        not_before = prelim.signature_not_before_time
    else:
        prelim = await _basic(**common)
        best_time = copy(poe_manager)[signature_bytes]  # the document timestamps' proof, else now
        not_before = None
    current = prelim.ades_subindic
    cause_message = None
    if current is AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE:
        fresh = bootstrap_validation_data_handlers(spec=spec, timing_info=timing, poe_manager_override=copy(poe_manager))
        answers_only_about_their_certificate(fresh.revinfo_manager)
        cause = await chain_failure_cause(
            embedded_sig.signer_cert, list(embedded_sig.other_embedded_certs),
            ades._init_vcs(spec, timing, fresh)[0], {"key_usage": set()})
        if cause is not None:
            current, cause_message = cause

    def result(subindic, status, message, best, ts_result=None) -> AdESLTAValidationResult:
        return AdESLTAValidationResult(
            ades_subindic=subindic, api_status=status, failure_msg=message, best_signature_time=best,
            signature_not_before_time=not_before, oldest_evidence_record_timestamp=oldest_record,
            signature_timestamp_status=ts_result, validation_objects=prelim.validation_objects)

    if current is not AdESPassed.OK and current not in FURTHER_PROCESSING:
        return result(current, prelim.api_status, prelim.failure_msg or cause_message, best_time)

    # (4) the signature exists at its best signature time
    poe_manager.register(signature_bytes, poe_type=POEType.VALIDATION, dt=best_time)

    # (5) signature timestamps: the first that passes (when the current time passed, the process for signatures
    # with time has validated them already and its status holds the result)
    ts_result = None
    for signature_ts in () if current is AdESPassed.OK else generic_cms.extract_tst_data_iter(
            embedded_sig.signer_info, signed=False):
        attempt = await ades._process_signature_ts(embedded_sig, validation_spec=spec, poe_manager=copy(poe_manager),
                                                   timing_info=timing, signature_ts=signature_ts)
        if attempt.ades_subindic == AdESPassed.OK:
            ts_result = attempt
            break
    status = prelim.api_status
    if status is not None and ts_result is not None:
        status = dataclasses.replace(status, timestamp_validity=ts_result.api_status)

    # (6) past signature validation, only when the current time could not conclude
    message = None
    if current is not AdESPassed.OK:
        past_poes = copy(poe_manager)
        try:
            path = await ades._ades_past_signature_validation(
                signed_data=embedded_sig.signed_data, validation_spec=spec, poe_manager=past_poes,
                current_time_sub_indic=current, init_control_time=timing.validation_time, is_timestamp=False)
        except SignatureValidationError as exc:
            # ETSI §5.6.2.4: the block's own outcomes stand (revocation data not proven issued in time, signed
            # before the certificate); when it merely cannot conclude (no past path, time slide without proof),
            # the current time's indication, which names the cause, is returned.
            subindic = exc.ades_subindication if exc.ades_subindication in PAST_OUTCOMES else current
            message = "; ".join(m for m in (cause_message, str(exc.failure_message)) if m)
            return result(subindic, status, message, past_poes[signature_bytes], ts_result)
        except PathError as exc:
            return result(current, status, f"past validation: {exc}", past_poes[signature_bytes], ts_result)
        if status is not None:
            status = dataclasses.replace(status, validation_path=status.validation_path or path,
                                         trust_problem_indic=None)
        poe_manager = past_poes

    # (7) the oldest proof of existence of the signature; (8) its algorithms at that time
    proven = poe_manager[signature_bytes]
    subindic = AdESPassed.OK
    policy = spec.cert_validation_policy.algorithm_usage_policy
    if policy is not None:
        try:
            ades._ades_signature_crypto_policy_check(embedded_sig.signer_info, algo_policy=policy,
                                                     control_time=proven, public_key=embedded_sig.signer_cert.public_key)
        except SignatureValidationError as exc:
            subindic, message = exc.ades_subindication or current, exc.failure_message
    return result(subindic, status, message, proven, ts_result)
