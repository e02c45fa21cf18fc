import { OUTCOME_WORDS, allOutcomes, outcome } from '../../../local/simulator-outcomes';

// The Java client's Outcome enum names (IdentityPlus/Integration-API-Client-Java @ 77b64b55,
// src/identity/plus/api/communication/Outcome.java), copied: the clients parse an outcome back into the enum
// by replacing spaces with `_`, so the words must be exactly these.
const JAVA_ENUM = `OK_0000_Acknowledged OK_0001_Subject_anonymous_certificate_valid
OK_0002_Subject_anonymous_certificate_valid_and_user_uid_associated
OK_0100_Subject_user_successfully_associated_to_Identity_Plus_identity OK_0101_Subject_user_disassociated
OK_0102_Subject_user_updated OK_0103_Identity_Plus_certificate_found_via_legacy_method
PB_0000_No_Identity_Plus_anonymous_certificate PB_0001_No_Identity_Plus_certificate_found_via_legacy_method
PB_0002_Expired_Identity_Plus_anonymous_certificate PB_0003_Identity_Plus_anonymous_certificate_needs_validation
PB_0004_Revoked_Identity_Plus_anonymous_certificate PB_0005_Intruder_Certificate
PB_0006_Unknown_Identity_Plus_anonymous_certificate PB_0007_Crypto_Failure_package_was_tempered_with
PB_0008_Authorization_Expired ER_0000_Undetermined_error ER_0001_Unknown_request_error
ER_0002_No_such_operation_for_object ER_0003_Subject_user_name_is_already_associated
ER_0004_Subject_user_name_is_already_associated_to_a_different_identity ER_0005_Subject_user_name_was_never_associated
ER_0006_Return_URL_is_too_long ER_0007_An_intrusion_was_already_reported_on_this_certificate
ER_0008_Error_Parsing_Request ER_0009_Request_Denied ER_0010_Insufficient_Reference_Information
ER_0011_Incomplete_Message_Error ER_0012_Expecting_Service_Agent ER_1100_No_Identity_Plus_API_certificate_presented
ER_1101_Unknown_Identity_Plus_API_certificate ER_1102_Expired_Identity_Plus_API_certificate
ER_1103_Revoked_Identity_Plus_API_certificate ER_1104_Number_of_connectable_identities_exceeded
ER_1105_Suspended_Identity_Plus_API_certificate ER_1106_General_Identity_Plus_API_Problem`.split(/\s+/);

describe('outcomes', () => {
  it('are the Java enum names with spaces for underscores, in its order', () => {
    expect(allOutcomes()).toEqual(JAVA_ENUM.map((name) => name.replace(/_/g, ' ')));
  });

  it('read back into the Java enum the way the Java and PHP clients read them', () => {
    for (const text of allOutcomes()) expect(JAVA_ENUM).toContain(text.replace(/ /g, '_'));
  });

  it('spell one code', () => {
    expect(outcome('ER 0012')).toBe('ER 0012 Expecting Service Agent');
    expect(Object.keys(OUTCOME_WORDS).every((code) => /^(OK|PB|ER) [0-9]{4}$/.test(code))).toBe(true);
  });
});
