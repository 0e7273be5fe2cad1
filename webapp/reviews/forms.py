from django import forms
from django.conf import settings


class ReviewForm(forms.Form):
    review = forms.CharField(
        label="Your review",
        strip=False,
        max_length=settings.MAX_REVIEW_CHARS,
        error_messages={"required": "Please write a review first."},
        widget=forms.Textarea(attrs={"rows": 6, "aria-describedby": "review-help"}),
    )

    def clean_review(self) -> str:
        review = self.cleaned_data["review"]
        if not review.strip():
            raise forms.ValidationError("Please write a review first.", code="blank")
        # Browsers submit a textarea's line breaks as CRLF; the user typed (and the
        # script sends) LF. Undo only that encoding step so both paths store the same text.
        return review.replace("\r\n", "\n")


class FeedbackForm(forms.Form):
    correct = forms.TypedChoiceField(
        choices=[("true", "Correct"), ("false", "Wrong")],
        coerce=lambda value: value == "true",
    )
