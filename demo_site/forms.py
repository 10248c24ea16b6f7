from __future__ import annotations

from django import forms

from .models import Comment


class CommentForm(forms.ModelForm):
    class Meta:
        model = Comment
        fields = ["name", "text"]
        labels = {"name": "Your name", "text": "Comment"}
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}
