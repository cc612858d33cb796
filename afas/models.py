"""Activités, habilitations AFAS et déclarations : viennent avec les issues AFAS."""
