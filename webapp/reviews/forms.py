from django import forms

from core import review

# The rules of core.review, in the words of the page.
_MESSAGES = {
    review.Problem.BLANK: "Please write a review first.",
    review.Problem.TOO_LONG: "Ensure this value has at most {limit} characters (it has {length}).",
    review.Problem.NULL_CHARACTER: "Null characters are not allowed.",
}


class ReviewForm(forms.Form):
    review = forms.CharField(
        label="Your review",
        strip=False,
        error_messages={"required": _MESSAGES[review.Problem.BLANK]},
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "aria-describedby": "review-help",
                "maxlength": str(review.max_chars()),
            }
        ),
    )

    def clean_review(self) -> str:
        text = self.cleaned_data["review"]
        problem = review.review_problem(text)
        if problem is not None:
            message = _MESSAGES[problem].format(limit=review.max_chars(), length=len(text))
            raise forms.ValidationError(message, code=problem.value)
        # Browsers submit a textarea's line breaks as CRLF; the user typed (and the
        # script sends) LF. Undo only that encoding step so both paths store the same text.
        return text.replace("\r\n", "\n")


class FeedbackForm(forms.Form):
    correct = forms.TypedChoiceField(
        choices=[("true", "Correct"), ("false", "Wrong")],
        coerce=lambda value: value == "true",
    )
