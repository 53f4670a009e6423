#[cfg(feature = "ssr")]
use crate::dto::{QuestionKind, QuestionView, QuizView};
use crate::{
    api::submit_quiz,
    dto::{answer_field, quiz_form_action, unanswered_message, QuizAnswers, QuizGrade},
    pages::error_text,
};
#[cfg(feature = "ssr")]
use leptos::either::EitherOf3;
use leptos::{ev::SubmitEvent, prelude::*};

/// A quiz as a plain HTML form. Without JavaScript it posts to the server, which grades it and
/// sends the learner back to this lesson; once hydrated, the [`Quiz`] island grades it in
/// place. The questions' prompts and inputs are rendered here, on the server, so the island
/// carries them as HTML.
#[cfg(feature = "ssr")]
#[component]
pub fn QuizForm(lesson: String, quiz: QuizView) -> impl IntoView {
    // What the learner answered last time (or just sent, ungraded), so a reload or a no-JS
    // round trip keeps it.
    let (grade, missing) = match quiz.ungraded.clone() {
        Some(u) => (None, u.missing),
        None => (quiz.last_grade.clone(), Vec::new()),
    };
    let given = |id: &str| match &quiz.ungraded {
        Some(u) => u
            .given
            .iter()
            .find(|(q, _)| q == id)
            .map(|(_, g)| g.clone())
            .unwrap_or_default(),
        None => quiz
            .last_grade
            .as_ref()
            .and_then(|g| g.question(id).map(|q| q.given.clone()))
            .unwrap_or_default(),
    };
    // Without JavaScript the page comes back from the post: start at the first blank.
    let first_missing = missing.first().cloned();
    let questions = quiz
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| QuestionHtml {
            id: q.id.clone(),
            // Plain markup, nothing reactive: rendered in this component's owner.
            legend_html: view! {
                <span class="question-number">{i + 1}</span>
                <span class="question-prompt" inner_html=q.prompt_html.clone()></span>
            }
            .to_html(),
            input_html: answer_input(q, &given(&q.id), first_missing.as_deref() == Some(&q.id))
                .into_view()
                .to_html(),
        })
        .collect();
    view! {
        <Quiz
            lesson
            quiz=quiz.id.clone()
            title=quiz.title.clone()
            questions
            grade
            missing
        />
    }
}

/// One question as the server renders it for the [`Quiz`] island. Only the id travels to the
/// browser in the island's props: the HTML is in the page already, and hydrating an element
/// leaves the `inner_html` the server sent alone. The island never renders a question afresh
/// (its questions are not reactive), so the browser has no use for a second copy.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct QuestionHtml {
    pub id: String,
    /// The number and the prompt.
    #[serde(skip_serializing, default)]
    pub legend_html: String,
    /// The options or the text field, filled in with the last answer.
    #[serde(skip_serializing, default)]
    pub input_html: String,
}

/// The quiz form, graded in place: each question's verdict appears under it.
#[island]
fn Quiz(
    lesson: String,
    quiz: String,
    title: String,
    questions: Vec<QuestionHtml>,
    grade: Option<QuizGrade>,
    /// Questions the last submission left blank (it was not graded).
    missing: Vec<String>,
) -> impl IntoView {
    let grade = RwSignal::new(grade);
    let missing = RwSignal::new(missing);
    let error = RwSignal::new(None::<String>);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let submit = Action::new(
        move |(lesson, quiz, answers): &(String, String, QuizAnswers)| {
            let (lesson, quiz, answers) = (lesson.clone(), quiz.clone(), answers.clone());
            async move { submit_quiz(lesson, quiz, answers).await }
        },
    );
    Effect::new(move |_| match submit.value().get() {
        Some(Ok(g)) => {
            error.set(None);
            // Redrawing the same score would take away the focus given to it.
            if grade.with_untracked(|now| now.as_ref() != Some(&g)) {
                grade.set(Some(g));
            }
            // Once the score is drawn, take the learner (and a screen reader) to it.
            focus_after_render(form_ref, ".quiz-score");
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });

    let question_ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let question_ids_all = question_ids.clone();
    let on_submit = {
        let (lesson, quiz) = (lesson.clone(), quiz.clone());
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let form = event_target::<web_sys::HtmlFormElement>(&ev);
            match read_answers(&form, &question_ids) {
                Ok(answers) => {
                    let blank: Vec<String> = answers
                        .iter()
                        .filter(|(_, given)| given.iter().all(|g| g.trim().is_empty()))
                        .map(|(id, _)| id.clone())
                        .collect();
                    let first_blank = blank.first().cloned();
                    missing.set(blank);
                    match first_blank {
                        Some(id) => {
                            focus_after_render(form_ref, &format!("[data-question='{id}'] input"))
                        }
                        None => {
                            submit.dispatch((lesson.clone(), quiz.clone(), answers));
                        }
                    }
                }
                Err(msg) => error.set(Some(msg)),
            }
        }
    };

    let questions = questions
        .into_iter()
        .map(|q| {
            let id = q.id.clone();
            let verdict = move || {
                grade.get().and_then(|g| g.question(&id).cloned()).map(|q| {
                    let (class, word) = if q.correct {
                        ("verdict right", "Right.")
                    } else {
                        ("verdict wrong", "Not quite.")
                    };
                    view! {
                        <div class=class data-verdict=if q.correct { "right" } else { "wrong" }>
                            <strong>{word}</strong>
                            <div class="explanation" inner_html=q.explanation_html></div>
                        </div>
                    }
                })
            };
            let blank = {
                let id = q.id.clone();
                move || missing.with(|m| m.contains(&id))
            };
            let needs_answer = blank.clone();
            view! {
                <fieldset class="question" class:unanswered=blank data-question=q.id>
                    <legend inner_html=q.legend_html></legend>
                    <div class="html-slot" inner_html=q.input_html></div>
                    {move || needs_answer().then(|| view! {
                        <p class="needs-answer">"This question needs an answer."</p>
                    })}
                    {verdict}
                </fieldset>
            }
        })
        .collect_view();
    let numbers = move || {
        missing.with(|m| {
            question_ids_all
                .iter()
                .enumerate()
                .filter(|(_, id)| m.contains(id))
                .map(|(i, _)| i + 1)
                .collect::<Vec<_>>()
        })
    };
    let pending = submit.pending();
    view! {
        <form
            node_ref=form_ref
            class="quiz"
            id=format!("quiz-{quiz}")
            data-quiz=quiz.clone()
            method="post"
            action=quiz_form_action(&lesson, &quiz)
            on:submit=on_submit
        >
            <h2 class="quiz-title">{title}</h2>
            {questions}
            <div class="quiz-footer">
                <button type="submit" class="button primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Checking…" } else { "Check answers" }}
                </button>
                <div class="quiz-result" role="status" aria-live="polite">
                    {move || grade.get().map(|g| view! {
                        <p class="quiz-score" tabindex="-1" data-correct=g.correct data-total=g.total>
                            {format!("{} of {} right", g.correct, g.total)}
                            {(g.correct == g.total).then_some(" — well done!")}
                        </p>
                    })}
                </div>
                <div role="alert">
                    {move || {
                        let numbers = numbers();
                        (!numbers.is_empty()).then(|| view! {
                            <p class="error-box quiz-missing">{unanswered_message(&numbers)}</p>
                        })
                    }}
                    {move || error.get().map(|e| view! { <p class="error-box quiz-error">{e}</p> })}
                </div>
            </div>
        </form>
    }
}

#[cfg(feature = "ssr")]
/// The options (radio buttons or checkboxes) or the text field of one question.
/// `autofocus`: this is the first question a refused submission left blank.
fn answer_input(question: &QuestionView, given: &[String], autofocus: bool) -> impl IntoView {
    let field = answer_field(&question.id);
    match question.kind.clone() {
        QuestionKind::Single { options } => {
            EitherOf3::A(choice_list("radio", &field, options, given, autofocus))
        }
        QuestionKind::Multiple { options } => {
            EitherOf3::B(choice_list("checkbox", &field, options, given, autofocus))
        }
        QuestionKind::Typed { placeholder } => EitherOf3::C(view! {
            <input
                type="text"
                class="typed-answer"
                name=field
                placeholder=placeholder
                autocomplete="off"
                spellcheck="false"
                autofocus=autofocus
                value=given.first().cloned().unwrap_or_default()
            />
        }),
    }
}

#[cfg(feature = "ssr")]
fn choice_list(
    kind: &'static str,
    field: &str,
    options: Vec<crate::dto::ChoiceOption>,
    given: &[String],
    autofocus: bool,
) -> impl IntoView {
    options
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let checked = given.contains(&o.id);
            view! {
                <label class="choice">
                    <input type=kind name=field.to_string() value=o.id.clone() checked=checked
                        autofocus=autofocus && i == 0/>
                    <span inner_html=o.label_html></span>
                </label>
            }
        })
        .collect_view()
}

/// Collect the form's answers per question, in the order the questions appear.
#[cfg(feature = "hydrate")]
fn read_answers(
    form: &web_sys::HtmlFormElement,
    question_ids: &[String],
) -> Result<QuizAnswers, String> {
    let data = web_sys::FormData::new_with_form(form)
        .map_err(|_| "This browser could not read the quiz form.".to_string())?;
    Ok(question_ids
        .iter()
        .map(|id| {
            let values = data
                .get_all(&answer_field(id))
                .iter()
                .filter_map(|v| v.as_string())
                .collect();
            (id.clone(), values)
        })
        .collect())
}

#[cfg(not(feature = "hydrate"))]
fn read_answers(
    _form: &web_sys::HtmlFormElement,
    _question_ids: &[String],
) -> Result<QuizAnswers, String> {
    Err("Quizzes are graded in the browser only after it has loaded the app.".into())
}

/// Focus the first element under the form matching `selector` once the page has drawn what
/// just changed (signals update the page before the next frame).
fn focus_after_render(form: NodeRef<leptos::html::Form>, selector: &str) {
    let selector = selector.to_string();
    request_animation_frame(move || {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = form
            .get_untracked()
            .and_then(|f| f.query_selector(&selector).ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    });
}
