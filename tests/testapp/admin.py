from django.contrib import admin

from pagecache.admin import PurgeCacheMixin

from .models import Article, Category


@admin.register(Article)
class ArticleAdmin(PurgeCacheMixin, admin.ModelAdmin):
    list_display = ["title"]


@admin.register(Category)
class CategoryAdmin(PurgeCacheMixin, admin.ModelAdmin):
    actions = ["make_uppercase"]  # the mixin's action is kept alongside the model's own

    @admin.action(description="Upper-case names")
    def make_uppercase(self, request, queryset):
        for category in queryset:
            category.name = category.name.upper()
            category.save()
