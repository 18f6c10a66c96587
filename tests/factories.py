import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import Role


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"team-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            names = [g if isinstance(g, str) else g.name for g in extracted]
            for name in names:
                self.groups.add(Group.objects.get_or_create(name=name)[0])


def role(name: Role) -> Group:
    return Group.objects.get(name=name)
