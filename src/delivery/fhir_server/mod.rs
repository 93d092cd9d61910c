//! The FHIR server sink: transactions posted to the EHR's server, each patient the Bundle names by
//! identifier first looked up there (`Patient?identifier=`) and referenced by id, and MedTech windows
//! read, merged and written back ([`medtech_writer`]).

pub mod client;
pub mod medtech_writer;
pub mod smart_auth;

use std::collections::HashMap;

use fhirbolt::model::r4::resources::Bundle;

pub use client::{Answer, FhirClient};
use medtech_writer::MedtechWriter;

use super::plan::MergePlan;
use super::sink::{Outcome, Refusal, Sink};
use crate::fhir::patients::{patient_identifiers, resolve_patients};

/// Patients found at the EHR by identifier: (system, value) → id. Only hits are kept (a Patient's id
/// does not change); a miss is asked again next time, as the Patient may have been registered since.
type PatientIds = HashMap<(String, String), String>;

/// Delivery to one FHIR server.
pub struct FhirServerSink {
    client: FhirClient,
    /// Look patients up by identifier before sending (`fhir.resolve_patients`).
    resolve_patients: bool,
    patients: PatientIds,
    medtech: MedtechWriter,
}

impl FhirServerSink {
    pub fn new(client: FhirClient, resolve_patients: bool) -> Self {
        FhirServerSink {
            medtech: MedtechWriter::new(client.clone()),
            client,
            resolve_patients,
            patients: PatientIds::new(),
        }
    }

    /// Looks up the patients the Bundle names by identifier and references those found by id.
    async fn resolve_patients(&mut self, bundle: &mut Bundle) -> Result<(), String> {
        for key in patient_identifiers(bundle) {
            if self.patients.contains_key(&key) {
                continue;
            }
            if let Some(id) = self.client.find_patient(&key.0, &key.1).await? {
                self.patients.insert(key, id);
            }
        }
        resolve_patients(bundle, &self.patients);
        Ok(())
    }
}

impl Sink for FhirServerSink {
    /// The server's CapabilityStatement, summarised: the cheapest read every FHIR server answers.
    async fn probe(&mut self) -> bool {
        matches!(self.client.read("metadata?_summary=true").await, Ok(Some(_)))
    }

    async fn transaction(&mut self, mut bundle: Bundle) -> Outcome {
        if self.resolve_patients {
            if let Err(reason) = self.resolve_patients(&mut bundle).await {
                return Outcome::retry(reason);
            }
        }
        let json = match crate::fhir::bundle_to_json(&bundle) {
            Ok(json) => json,
            Err(error) => return Outcome::refused(error.to_string()),
        };
        let entries = bundle.entry.len();
        match self.client.transaction(json.clone(), entries).await {
            Answer::Delivered => Outcome::Delivered { entries },
            Answer::Retry { reason, after } => Outcome::Retry { reason, after },
            Answer::Rejected { status, body } => Outcome::Refused(Refusal {
                reason: format!("the FHIR server refused the Bundle with {status}"),
                status: Some(status),
                answer: Some(body),
                sent: Some(json),
            }),
        }
    }

    async fn merge(&mut self, plan: &MergePlan) -> Outcome {
        self.medtech.write(plan).await
    }
}
