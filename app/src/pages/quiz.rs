#[cfg(feature = "ssr")]
use crate::dto::{QuestionKind, QuestionView, QuizView};
use crate::{
    api::submit_quiz,
    dto::{answer_field, quiz_form_action, QuizAnswers, QuizGrade},
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
    // What the learner answered last time, so a reload or a no-JS round trip keeps it.
    let given = |id: &str| {
        quiz.last_grade
            .as_ref()
            .and_then(|g| g.question(id).map(|q| q.given.clone()))
            .unwrap_or_default()
    };
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
            input_html: answer_input(q, &given(&q.id)).into_view().to_html(),
        })
        .collect();
    view! {
        <Quiz
            lesson
            quiz=quiz.id.clone()
            title=quiz.title.clone()
            questions
            grade=quiz.last_grade.clone()
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
) -> impl IntoView {
    let grade = RwSignal::new(grade);
    let error = RwSignal::new(None::<String>);
    let submit = Action::new(
        move |(lesson, quiz, answers): &(String, String, QuizAnswers)| {
            let (lesson, quiz, answers) = (lesson.clone(), quiz.clone(), answers.clone());
            async move { submit_quiz(lesson, quiz, answers).await }
        },
    );
    Effect::new(move |_| match submit.value().get() {
        Some(Ok(g)) => {
            error.set(None);
            grade.set(Some(g));
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });

    let question_ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let on_submit = {
        let (lesson, quiz) = (lesson.clone(), quiz.clone());
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let form = event_target::<web_sys::HtmlFormElement>(&ev);
            match read_answers(&form, &question_ids) {
                Ok(answers) => {
                    submit.dispatch((lesson.clone(), quiz.clone(), answers));
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
            view! {
                <fieldset class="question" data-question=q.id>
                    <legend inner_html=q.legend_html></legend>
                    <div class="html-slot" inner_html=q.input_html></div>
                    {verdict}
                </fieldset>
            }
        })
        .collect_view();
    let pending = submit.pending();
    view! {
        <form
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
                {move || grade.get().map(|g| view! {
                    <p class="quiz-score" data-correct=g.correct data-total=g.total>
                        {format!("{} of {} right", g.correct, g.total)}
                        {(g.correct == g.total).then_some(" — well done!")}
                    </p>
                })}
                {move || error.get().map(|e| view! { <p class="error-box quiz-error">{e}</p> })}
            </div>
        </form>
    }
}

#[cfg(feature = "ssr")]
/// The options (radio buttons or checkboxes) or the text field of one question.
fn answer_input(question: &QuestionView, given: &[String]) -> impl IntoView {
    let field = answer_field(&question.id);
    match question.kind.clone() {
        QuestionKind::Single { options } => {
            EitherOf3::A(choice_list("radio", &field, options, given))
        }
        QuestionKind::Multiple { options } => {
            EitherOf3::B(choice_list("checkbox", &field, options, given))
        }
        QuestionKind::Typed { placeholder } => EitherOf3::C(view! {
            <input
                type="text"
                class="typed-answer"
                name=field
                placeholder=placeholder
                autocomplete="off"
                spellcheck="false"
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
) -> impl IntoView {
    options
        .into_iter()
        .map(|o| {
            let checked = given.contains(&o.id);
            view! {
                <label class="choice">
                    <input type=kind name=field.to_string() value=o.id.clone() checked=checked/>
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
