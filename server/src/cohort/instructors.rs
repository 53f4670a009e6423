//! Instructors: who is logged in (a session older than their last password reset is not),
//! their cohorts, a cohort's dashboard, and an attempt of one of their learners.

use crate::course::Course;
use crate::exercise::Exercises;
use crate::failure::OrInternal;
use crate::store::{Attempt, Cohort, Instructor, Learner, Store};
use app::backend::BackendError;
use app::dto::{Dashboard, InstructorHome, Notice};
use tower_sessions::Session;

/// The instructor logged in with this session, or Unauthorized. A session from before the
/// instructor's last password reset is logged out here.
pub async fn instructor(store: &Store, session: &Session) -> Result<Instructor, BackendError> {
    let refused = || BackendError::Unauthorized("Log in as an instructor first.".into());
    let id = crate::auth::instructor_id(session)
        .await
        .ok_or_else(refused)?;
    let instructor = store
        .instructor(&id)
        .await
        .or_internal("checking your login")?
        .ok_or_else(refused)?;
    if instructor.credential_version != crate::auth::credential_version(session).await {
        let _ = session.remove::<String>(crate::auth::INSTRUCTOR_KEY).await;
        return Err(BackendError::Unauthorized(
            "Your password was changed since you logged in; log in again with the new one.".into(),
        ));
    }
    Ok(instructor)
}

/// The cohort if the logged-in instructor runs it; anyone else's is "not found".
pub async fn own_cohort(
    store: &Store,
    session: &Session,
    id: &str,
) -> Result<Cohort, BackendError> {
    let instructor = instructor(store, session).await?;
    store
        .cohort_of(id, &instructor.id)
        .await
        .or_internal("loading the cohort")?
        .ok_or_else(|| BackendError::NotFound("You have no cohort with this id.".into()))
}

pub async fn home(
    store: &Store,
    registry: &crate::registry::Registry,
    session: &Session,
) -> Result<InstructorHome, BackendError> {
    let instructor = instructor(store, session).await?;
    let registry_login = registry
        .instructor_credentials(&instructor.id, instructor.credential_version)
        .map(|login| format!("docker login {} -u {}", login.registry, login.username));
    let cohorts = store
        .cohorts_of(&instructor.id)
        .await
        .or_internal("loading your cohorts")?;
    Ok(InstructorHome {
        name: instructor.name,
        cohorts: cohorts
            .iter()
            .map(|(c, n)| crate::cohort::summary(c, *n))
            .collect(),
        csrf: crate::auth::page_csrf(session).await?,
        notice: crate::auth::take_notice(session).await,
        registry_login,
    })
}

pub async fn dashboard(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    session: &Session,
    cohort: &str,
) -> Result<Dashboard, BackendError> {
    let cohort = own_cohort(store, session, cohort).await?;
    let mut dashboard = crate::cohort::dashboard(store, course, exercises, &cohort)
        .await
        .or_internal("loading the cohort's progress")?;
    dashboard.notice = crate::auth::take_notice(session).await;
    Ok(dashboard)
}

/// An attempt by a learner in one of this instructor's cohorts, with the learner and the
/// cohort id; anything else is "not found".
pub async fn cohort_attempt(
    store: &Store,
    session: &Session,
    attempt: &str,
) -> Result<(Attempt, Learner, String), BackendError> {
    let instructor = instructor(store, session).await?;
    let failed = "loading the attempt";
    let missing = crate::failure::no_such_attempt;
    let found = store
        .attempt_any(attempt)
        .await
        .or_internal(failed)?
        .ok_or_else(missing)?;
    let learner = store
        .learner(&found.learner_id)
        .await
        .or_internal(failed)?
        .ok_or_else(missing)?;
    let cohort_id = learner.cohort_id.clone().ok_or_else(missing)?;
    store
        .cohort_of(&cohort_id, &instructor.id)
        .await
        .or_internal(failed)?
        .ok_or_else(missing)?;
    Ok((found, learner, cohort_id))
}

/// A new cohort named `raw` (tidied) for the logged-in instructor; with the page to go to.
pub async fn create_cohort(
    store: &Store,
    session: &Session,
    raw: &str,
) -> Result<(Notice, String), BackendError> {
    let instructor = instructor(store, session).await?;
    let name = match crate::learners::clean_name(raw) {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Ok((
                Notice::refused("Give the cohort a name."),
                "/instructor".into(),
            ))
        }
        Err(problem) => return Ok((Notice::refused(problem), "/instructor".into())),
    };
    let cohort = store
        .create_cohort(&instructor.id, &name)
        .await
        .or_internal("creating the cohort")?;
    let notice = Notice::done(format!(
        "Cohort “{}” created. Learners join with the code {}.",
        cohort.name, cohort.join_code
    ));
    Ok((notice, format!("/instructor/cohorts/{}", cohort.id)))
}

/// A login form as sent.
pub struct LogIn<'a> {
    pub name: &'a str,
    pub password: String,
    /// Where it came from, for the throttle.
    pub address: &'a str,
}

/// How a login went.
#[derive(Debug)]
pub enum LoggedIn {
    /// The session is now the instructor's (a new session id and form token).
    Yes,
    /// Not that name and password; the message says how long the next try must wait.
    No(Notice),
    /// Too many failures for this name or address: no password was checked.
    Throttled { seconds: u64 },
    /// Too many password checks at once.
    Busy,
}

/// An instructor's login. Failures make the next attempt from the same name or address wait
/// (whatever password it carries: a guess during the wait costs no password check); password
/// checks at once are bounded, as each takes argon2's memory and a core. An unknown name
/// costs the same check as a known one.
pub async fn log_in(
    store: &Store,
    throttle: &crate::auth::LoginThrottle,
    session: &Session,
    form: LogIn<'_>,
) -> Result<LoggedIn, BackendError> {
    let name = form.name.trim();
    if let Some(wait) = throttle.wait(name, form.address) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Ok(LoggedIn::Throttled { seconds });
    }
    let Some(_checking) = throttle.try_check() else {
        return Ok(LoggedIn::Busy);
    };
    let found = store
        .instructor_by_name(name)
        .await
        .or_internal("checking your login")?;
    let password = form.password;
    let hash = found.as_ref().map_or_else(
        || crate::auth::decoy_hash().to_string(),
        |i| i.password_hash.clone(),
    );
    let verified =
        tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false);
    let Some(instructor) = found.filter(|_| verified) else {
        let text = match throttle.failed(name, form.address) {
            Some(wait) => format!(
                "That name and password do not match an instructor. Wait {} before the next try.",
                crate::auth::in_words(wait.as_secs())
            ),
            None => "That name and password do not match an instructor.".to_string(),
        };
        return Ok(LoggedIn::No(Notice::refused(text)));
    };
    throttle.succeeded(name, form.address);
    let failed = "logging you in";
    session.cycle_id().await.or_internal(failed)?;
    crate::auth::renew_csrf(session).await.or_internal(failed)?;
    session
        .insert(crate::auth::INSTRUCTOR_KEY, instructor.id)
        .await
        .or_internal(failed)?;
    session
        .insert(crate::auth::CREDENTIAL_KEY, instructor.credential_version)
        .await
        .or_internal(failed)?;
    Ok(LoggedIn::Yes)
}

/// Who reads which namespaces in the class registry: an instructor (by their registry
/// username) the namespaces of the learners in their cohorts, as the store says at each token.
pub fn registry_readers(store: Store) -> crate::registry::Readers {
    std::sync::Arc::new(move |username: String| {
        let store = store.clone();
        Box::pin(async move {
            let Some(prefix) = crate::registry::instructor_id_prefix(&username) else {
                return Ok(None);
            };
            let Some((credential_version, learners)) =
                store.learners_of_instructor_prefix(prefix).await?
            else {
                return Ok(None);
            };
            Ok(Some(crate::registry::Reader {
                credential_version,
                namespaces: learners
                    .iter()
                    .map(|learner| crate::registry::handle_of(learner))
                    .collect(),
            }))
        })
    })
}

/// The logged-in instructor's `docker login` for the class registry: it pulls from the
/// namespaces of their cohorts' learners and pushes nowhere.
pub async fn registry_login(
    store: &Store,
    registry: &crate::registry::Registry,
    session: &Session,
) -> Result<crate::registry::Credentials, BackendError> {
    let instructor = instructor(store, session).await?;
    crate::learners::registry_offered(registry)?;
    registry
        .instructor_credentials(&instructor.id, instructor.credential_version)
        .ok_or_else(|| crate::failure::internal("giving your registry login", "no credentials"))
}
